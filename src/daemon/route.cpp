#include "daemon/route.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "daemon/ib_route.h"

namespace ibcm::daemon {

IpEndpoint endpoint(const sockaddr_storage& ss) {
  IpEndpoint e;
  e.addr = ss;
  e.len = ss.ss_family == AF_INET    ? sizeof(sockaddr_in)
          : ss.ss_family == AF_INET6 ? sizeof(sockaddr_in6)
                                     : 0;
  return e;
}

bool is_any(const IpEndpoint& ip) {
  if (ip.addr.ss_family == AF_INET)
    return reinterpret_cast<const sockaddr_in&>(ip.addr).sin_addr.s_addr == INADDR_ANY;
  if (ip.addr.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ip.addr).sin6_addr;
    return std::memcmp(&a, &in6addr_any, sizeof a) == 0;
  }
  return true;
}

Expected<IpEndpoint, int> source_for(const IpEndpoint& dst) {
  // A UDP socket connected to dst holds the source address the routing table chose; nothing is
  // sent.
  int fd = ::socket(dst.addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unexpected{errno};
  IpEndpoint to = dst;
  if (to.port() == 0) to.set_port(9);
  IpEndpoint src;
  src.len = sizeof src.addr;
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&to.addr), to.len);
  if (rc == 0) rc = ::getsockname(fd, reinterpret_cast<sockaddr*>(&src.addr), &src.len);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Unexpected{err};
  src.set_port(0);
  return src;
}

Expected<proto::Route, int> local_route(const ServedPort& port, const IpoibLookup& ipoib,
                                        const IpEndpoint& src) {
  if (is_infiniband(port)) return ib_local_route(port, ipoib, src);
  proto::Route r;
  r.src = src.addr;
  auto entry = umad::find_roce_v2_gid(port.gids, src);
  if (!entry) return Unexpected{ENODEV};
  std::snprintf(r.device, sizeof r.device, "%s", port.device.c_str());
  r.port_num = port.port_num;
  r.link_layer = port.link_layer;
  r.sgid_index = static_cast<uint8_t>(entry->index);
  r.pkey_index = port.pkey_index;
  std::copy(entry->gid.begin(), entry->gid.end(), r.sgid);
  r.resolved = 1;
  return r;
}

Expected<wire::Gid, int> peer_gid(const ServedPort& port, const IpoibLookup& ipoib,
                                  const IpEndpoint& dst) {
  if (is_infiniband(port)) return ib_peer_gid(ipoib, dst);
  return gid_of(dst);
}

void complete_route(proto::Route& r, const ServedPort& port, const IpEndpoint& dst, uint8_t tos) {
  r.dst = dst.addr;
  wire::Gid g = gid_of(dst);
  std::copy(g.begin(), g.end(), r.dgid);
  // The port's active MTU is what the netdev's MTU leaves room for, as rdma_cm's iboe_get_mtu.
  r.mtu = static_cast<uint8_t>(port.active_mtu == wire::Mtu::None ? wire::Mtu::Mtu1024
                                                                  : port.active_mtu);
  r.hop_limit = 64;
  r.traffic_class = tos;
  r.packet_life_time = 16;  // rdma_cm's CMA_IBOE_PACKET_LIFETIME
  r.slid = r.dlid = 0xFFFF;
  r.resolved = 2;
}

}  // namespace ibcm::daemon
