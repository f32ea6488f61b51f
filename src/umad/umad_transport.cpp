// The umad transport's data path: MADs in and out through the agent, addresses mapped both ways,
// and the way each peer's last MAD came remembered for the answer.
#include "ibcm/umad/umad_transport.h"

#include <cerrno>
#include <cstring>

#include "ibcm/transport/roce_transport.h"
#include "umad/address_map.h"

namespace ibcm::umad {

namespace {
constexpr size_t kTidLowByte = 12;  // MAD header: TransactionID is bytes 8..15
constexpr uint8_t kMethodByte = 3;
constexpr size_t kUnicastLids = 0xC000;  // LIDs 1..0xBFFF name ports; 0xC000.. are multicast
bool is_response(const wire::MadBytes& mad) {
  return mad[kMethodByte] & 0x80;
}
}  // namespace

Expected<std::unique_ptr<UmadTransport>, UmadError> UmadTransport::open(
    std::unique_ptr<UmadPort> port, const LocalPort& local, std::unique_ptr<DirectSender> direct) {
  std::unique_ptr<UmadTransport> t(new UmadTransport());
  t->port_ = std::move(port);
  if (local.link_layer == LinkLayer::Ethernet) t->direct_ = std::move(direct);
  t->local_ = local;
  auto agent = t->port_->register_agent(wire::kCmClass, wire::kCmClassVersion, kCmRequestMethods);
  if (!agent) {
    std::string where = local.device + " port " + std::to_string(local.port);
    // ib_register_mad_agent refuses a method another agent on the port holds with EINVAL; the
    // one agent that takes CM Sends is the kernel CM's.
    if (agent.error() == EINVAL)
      return Unexpected{UmadError{
          UmadErrorKind::ClassInUse,
          "class 0x07 (CM) is already registered on " + where +
              ", probably by the kernel CM: unload it with `rmmod rdma_ucm rdma_cm iw_cm ib_cm`"}};
    return Unexpected{
        UmadError{UmadErrorKind::RegisterFailed, "cannot register a CM agent (class 0x07) on " +
                                                     where + ": " + std::strerror(agent.error())}};
  }
  t->agent_ = *agent;
  if (local.link_layer == LinkLayer::InfiniBand) t->lid_gids_.resize(kUnicastLids);
  return t;
}

Address UmadTransport::local() const {
  Address a;
  a.gid = local_.gid;
  a.lid = local_.link_layer == LinkLayer::Ethernet ? 0xFFFF : local_.lid;
  a.pkey = pkey_at(local_.pkeys, local_.pkey_index);
  return a;
}

std::string UmadTransport::name() const {
  return "umad " + local_.device + ":" + std::to_string(local_.port);
}

bool UmadTransport::accept(const UmadMad& m, Received& out) {
  auto drop = [this](uint64_t TransportCounters::*reason) {
    ++(counters_.*reason);
    ++counters_.rx_dropped;
    return false;
  };
  // A send report (ETIMEDOUT when a send waited for a response in vain) holds a header, not a
  // MAD from a peer. None are expected, as we send with timeout 0.
  if (m.status != 0) return drop(&TransportCounters::rx_mad_status);
  if (m.length != static_cast<int32_t>(wire::kMadSize))
    return drop(&TransportCounters::rx_malformed);
  // Answers go to QP 1 with the GSI Q_Key: a MAD from another QP could not be answered.
  if (m.addr.qpn != 1) return drop(&TransportCounters::rx_other_qp);
  out.from = address_from(m.addr, local_);
  if (!lid_gids_.empty()) {
    // Within a subnet IB MADs carry no GRH, but the engine knows its peers by GID.
    if (m.addr.grh_present)
      learn_gid(out.from.lid, out.from.gid);
    else
      out.from.gid = gid_of_lid(out.from.lid);
  }
  if (!pkey_matches(local().pkey, out.from.pkey)) return drop(&TransportCounters::rx_bad_pkey);
  peers_[peer_slot(out.from.gid, out.from.lid)] = path_from(m.addr, out.from);
  out.mad = m.mad;
  out.length = static_cast<uint16_t>(wire::kMadSize);
  return true;
}

size_t UmadTransport::receive(std::span<Received> out) {
  size_t got = 0;
  while (got < out.size()) {
    if (port_->receive(rx_) != 0) break;  // EAGAIN: drained (an error: the next round retries)
    ++counters_.rx_packets;
    if (accept(rx_, out[got])) ++got;
  }
  return got;
}

int UmadTransport::write(UmadMad& m) {
  int rc = port_->send(m);
  // ib_umad refuses a request (not a response) whose TID a send of ours still in flight has, with
  // EINVAL. The engine sends two such back to back when it answers one REQ with MRA and then
  // REP (both echo the REQ's TID). The kernel replaces the upper 32 bits anyway and no CM peer
  // matches Sends by TID, so the MAD goes again under low 32 bits of its own.
  if (rc == EINVAL && !is_response(m.mad)) {
    uint32_t low = next_tid_low_++;
    for (int i = 0; i < 4; ++i) m.mad[kTidLowByte + i] = static_cast<uint8_t>(low >> (24 - 8 * i));
    rc = port_->send(m);
  }
  return rc;
}

void UmadTransport::learn_gid(uint16_t lid, const wire::Gid& gid) {
  if (lid != 0 && lid < lid_gids_.size() && gid != wire::Gid{}) lid_gids_[lid] = gid;
}

wire::Gid UmadTransport::gid_of_lid(uint16_t lid) const {
  if (lid == 0 || lid >= lid_gids_.size() || lid_gids_[lid] == wire::Gid{})
    return placeholder_gid(local_.gid, lid);
  return lid_gids_[lid];
}

void UmadTransport::send(std::span<const Transmit> batch) {
  for (const Transmit& t : batch) {
    if (!lid_gids_.empty()) learn_gid(t.to.lid, t.to.gid);
    const PeerPath& slot = peers_[peer_slot(t.to.gid, t.to.lid)];
    bool known = slot.valid && slot.gid == t.to.gid && slot.lid == t.to.lid;
    tx_.agent_id = agent_;
    tx_.timeout_ms = 0;
    tx_.retries = 0;
    tx_.addr = address_to(t.to, known ? &slot : nullptr, local_);
    tx_.length = static_cast<int32_t>(wire::kMadSize);
    tx_.mad = t.mad;
    int rc = direct_ && !direct_->is_local(t.to.gid) ? direct_->send(tx_.addr, t.mad) : write(tx_);
    if (rc == 0)
      ++counters_.tx_packets;
    else
      count_send_error(counters_, rc, endpoint_of(t.to.gid, 0));
  }
}

}  // namespace ibcm::umad
