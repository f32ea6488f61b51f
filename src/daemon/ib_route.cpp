#include "daemon/ib_route.h"

#include <arpa/inet.h>
#include <infiniband/verbs.h>

#include <algorithm>
#include <cstdio>

namespace ibcm::daemon {

bool is_infiniband(const ServedPort& port) {
  return port.link_layer == IBV_LINK_LAYER_INFINIBAND;
}

Expected<proto::Route, int> ib_port_route(const ServedPort& port, const wire::Gid& sgid,
                                          uint16_t pkey) {
  auto gid = std::find_if(port.gids.begin(), port.gids.end(),
                          [&](const umad::GidEntry& e) { return e.gid == sgid; });
  if (gid == port.gids.end()) return Unexpected{ENODEV};
  // The membership bit aside, as the kernel's ib_find_cached_pkey matches a partition.
  auto key = std::find_if(port.pkeys.begin(), port.pkeys.end(),
                          [&](uint16_t k) { return (k & 0x7FFF) == (pkey & 0x7FFF); });
  if (key == port.pkeys.end()) return Unexpected{EINVAL};
  proto::Route r;
  std::snprintf(r.device, sizeof r.device, "%s", port.device.c_str());
  r.port_num = port.port_num;
  r.link_layer = port.link_layer;
  r.sgid_index = static_cast<uint8_t>(gid->index);
  r.pkey = pkey;
  r.pkey_index = static_cast<uint16_t>(key - port.pkeys.begin());
  std::copy(sgid.begin(), sgid.end(), r.sgid);
  r.resolved = 1;
  return r;
}

Expected<proto::Route, int> ib_local_route(const ServedPort& port, const IpoibLookup& ipoib,
                                           const IpEndpoint& src) {
  auto netdev = ipoib.netdev_of ? ipoib.netdev_of(src) : std::nullopt;
  if (!netdev) return Unexpected{ENODEV};
  auto r = ib_port_route(port, ipoib_gid(netdev->address), ipoib_pkey(*netdev));
  if (r) r->src = src.addr;
  return r;
}

Expected<wire::Gid, int> ib_peer_gid(const IpoibLookup& ipoib, const IpEndpoint& dst) {
  auto hw = ipoib.neighbour ? ipoib.neighbour(dst) : std::nullopt;
  if (!hw) return Unexpected{ENODATA};
  return ipoib_gid(*hw);
}

sa::PathRequest path_request(const proto::Route& r, uint64_t service_id, uint8_t tos) {
  sa::PathRequest q;
  std::copy_n(r.sgid, 16, q.sgid.begin());
  std::copy_n(r.dgid, 16, q.dgid.begin());
  q.pkey = r.pkey;
  q.service_id = service_id;
  if (r.src.ss_family == AF_INET6) {
    const auto& six = reinterpret_cast<const sockaddr_in6&>(r.src);
    q.traffic_class = static_cast<uint8_t>(ntohl(six.sin6_flowinfo) >> 20);
  } else {
    q.qos_class = tos;
  }
  return q;
}

void fill_route(proto::Route& r, const sa::ResolvedPath& p) {
  const sa::PathRecord& rec = p.record;
  std::copy(rec.sgid.begin(), rec.sgid.end(), r.sgid);
  std::copy(rec.dgid.begin(), rec.dgid.end(), r.dgid);
  r.slid = rec.slid;
  r.dlid = rec.dlid;
  r.sl = rec.sl;
  r.mtu = static_cast<uint8_t>(p.mtu);
  r.rate = rec.rate;
  r.packet_life_time = rec.packet_life_time;
  r.flow_label = rec.flow_label;
  r.traffic_class = rec.traffic_class;
  r.hop_limit = rec.hop_limit;
  r.pkey = p.pkey;
  r.resolved = 2;
}

int route_errno(const sa::QueryError& e) {
  switch (e.kind) {
    case sa::QueryErrorKind::Timeout:
      return ETIMEDOUT;
    case sa::QueryErrorKind::SendFailed:
      return e.errno_value;
    default:
      return EINVAL;
  }
}

sa::ResolvedPath path_from_req(const wire::Req& req) {
  sa::PathRecord rec;
  const wire::PathInfo& in = req.primary;
  rec.sgid = in.remote_gid;
  rec.dgid = in.local_gid;
  rec.slid = in.remote_lid;
  rec.dlid = in.local_lid;
  rec.flow_label = in.flow_label;
  rec.hop_limit = in.hop_limit;
  rec.traffic_class = in.traffic_class;
  rec.sl = in.sl;
  rec.rate = in.packet_rate;
  rec.mtu = static_cast<uint8_t>(req.path_mtu);
  rec.pkey = req.partition_key;
  // The REQ carries the local ACK timeout, 2 x PacketLifeTime (as the engine reads it).
  rec.packet_life_time = in.local_ack_timeout > 0 ? in.local_ack_timeout - 1 : 0;
  rec.reversible = true;
  auto p = sa::resolve(rec);
  if (p) return *p;
  sa::ResolvedPath out;  // an MTU a REQ cannot carry: the engine refused it already
  out.record = rec;
  out.pkey = rec.pkey;
  return out;
}

}  // namespace ibcm::daemon
