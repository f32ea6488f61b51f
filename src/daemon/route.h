// Address and route resolution for the daemon's IDs on RoCE (InfiniBand: ib_route.h): an IP address
// is a GID (RoCEv2), the source address is the one the kernel's routing table picks for the
// destination, and it must have a RoCEv2 GID on the served port. The path is the one Linux's
// rdma_cm builds for RoCE (cma_resolve_iboe_route): no SA, the port's MTU, hop limit 64.
#pragma once

#include <cerrno>
#include <optional>

#include "daemon/protocol.h"
#include "ibcm/daemon/cm_daemon.h"
#include "ibcm/transport/ip_address.h"

namespace ibcm::daemon {

// The source address the kernel would use to reach dst (its port 0), or the errno.
Expected<IpEndpoint, int> source_for(const IpEndpoint& dst);
// Whether `ip` is the unspecified address (0.0.0.0 or ::).
bool is_any(const IpEndpoint& ip);
// The route an ID bound to (or resolved from) `src` shows: the device, port, and our GID's index.
// ENODEV (EADDRNOTAVAIL for a bind) when the address has no RoCEv2 GID on the served port; on
// InfiniBand, when no IPoIB netdev of the port holds it (ib_route.h).
Expected<proto::Route, int> local_route(const ServedPort& port, const IpoibLookup& ipoib,
                                        const IpEndpoint& src);
// The peer's GID: its IP address on RoCE; on InfiniBand its IPoIB hardware address's.
Expected<wire::Gid, int> peer_gid(const ServedPort& port, const IpoibLookup& ipoib,
                                  const IpEndpoint& dst);
// Adds the destination and the path to a local route.
void complete_route(proto::Route& r, const ServedPort& port, const IpEndpoint& dst, uint8_t tos);
// sockaddr_storage <-> IpEndpoint, as the protocol carries addresses.
IpEndpoint endpoint(const sockaddr_storage& ss);

}  // namespace ibcm::daemon
