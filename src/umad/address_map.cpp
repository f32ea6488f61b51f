#include "umad/address_map.h"

#include <cstring>

namespace ibcm::umad {

namespace {
constexpr uint32_t kGsiQkey = 0x80010000;
bool same_subnet(const wire::Gid& a, const wire::Gid& b) {
  return std::memcmp(a.data(), b.data(), 8) == 0;
}
}  // namespace

Address address_from(const MadAddress& from, const LocalPort& port) {
  Address a;
  if (from.grh_present) a.gid = from.gid;
  a.lid = port.link_layer == LinkLayer::Ethernet ? 0xFFFF : from.lid;
  a.qpn = from.qpn;
  a.pkey = pkey_at(port.pkeys, from.pkey_index);
  return a;
}

PeerPath path_from(const MadAddress& from, const Address& peer) {
  PeerPath p;
  p.gid = peer.gid;
  p.lid = peer.lid;
  p.valid = true;
  p.grh = from.grh_present;
  p.sl = from.sl;
  p.path_bits = from.path_bits;
  p.hop_limit = from.hop_limit;
  p.traffic_class = from.traffic_class;
  p.gid_index = from.gid_index;
  p.flow_label = from.flow_label;
  return p;
}

MadAddress address_to(const Address& to, const PeerPath* path, const LocalPort& port) {
  MadAddress a;
  a.qpn = 1;  // the peer's GSI QP, whatever QP our Address says it sent from
  a.qkey = kGsiQkey;
  a.pkey_index = pkey_index_of(port.pkeys, to.pkey).value_or(port.pkey_index);
  a.gid = to.gid;
  a.gid_index = port.gid_index;
  a.hop_limit = kDefaultHopLimit;
  if (path) {
    a.sl = path->sl;
    a.path_bits = path->path_bits;
    a.traffic_class = path->traffic_class;
    a.flow_label = path->flow_label;
    if (path->grh) {
      a.hop_limit = path->hop_limit;
      a.gid_index = path->gid_index;  // answer from the GID the peer addressed
    }
  }
  if (port.link_layer == LinkLayer::Ethernet) {
    // RoCE has no LIDs: the kernel builds the packet from the GRH, which it requires.
    a.grh_present = true;
    a.lid = 0;
    return a;
  }
  a.lid = to.lid;
  a.grh_present = path ? path->grh : to.gid != wire::Gid{} && !same_subnet(to.gid, port.gid);
  return a;
}

wire::Gid placeholder_gid(const wire::Gid& ours, uint16_t lid) {
  wire::Gid g{};
  std::memcpy(g.data(), ours.data(), 8);
  g[14] = static_cast<uint8_t>(lid >> 8);
  g[15] = static_cast<uint8_t>(lid);
  return g;
}

size_t peer_slot(const wire::Gid& gid, uint16_t lid) {
  // FNV-1a over the GID and LID: peers differ mostly in the last bytes (IPv4-mapped GIDs).
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint8_t b : gid) h = (h ^ b) * 0x100000001b3ull;
  h = (h ^ (lid & 0xFF)) * 0x100000001b3ull;
  h = (h ^ (lid >> 8)) * 0x100000001b3ull;
  return static_cast<size_t>(h % kPeerPathSlots);
}

std::optional<uint16_t> pkey_index_of(const std::vector<uint16_t>& pkeys, uint16_t pkey) {
  for (size_t i = 0; i < pkeys.size(); ++i)
    if (pkeys[i] == pkey) return static_cast<uint16_t>(i);
  for (size_t i = 0; i < pkeys.size(); ++i)
    if ((pkeys[i] & 0x7FFF) == (pkey & 0x7FFF) && (pkey & 0x7FFF) != 0)
      return static_cast<uint16_t>(i);
  return std::nullopt;
}

uint16_t pkey_at(const std::vector<uint16_t>& pkeys, uint16_t index) {
  return index < pkeys.size() ? pkeys[index] : 0xFFFF;
}

}  // namespace ibcm::umad
