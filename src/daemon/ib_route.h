// Address and route resolution for the daemon's IDs on an InfiniBand port, as Linux's rdma_cm
// does it there: IP addresses are IPoIB's (our GID and P_Key from our netdev, the peer's GID from
// the neighbour table: addr.c), and the path is the SA's PathRecord (cma_query_ib_route). A
// passive ID's path is the REQ's, seen from our side (cm_format_paths_from_req).
#pragma once

#include <cerrno>

#include "daemon/protocol.h"
#include "ibcm/daemon/cm_daemon.h"
#include "ibcm/sa/path_query.h"
#include "ibcm/wire/messages.h"

namespace ibcm::daemon {

// The InfiniBand link layer (IBV_LINK_LAYER_INFINIBAND): routes come from the SA.
bool is_infiniband(const ServedPort& port);

// The route of our port for a GID and P_Key: ENODEV when the GID is not in the port's GID table
// (cma_validate_port), EINVAL when the P_Key is not in its P_Key table.
Expected<proto::Route, int> ib_port_route(const ServedPort& port, const wire::Gid& sgid,
                                          uint16_t pkey);
// The route an ID bound to `src` shows: our IPoIB netdev that holds src, its GID and P_Key.
Expected<proto::Route, int> ib_local_route(const ServedPort& port, const IpoibLookup& ipoib,
                                           const IpEndpoint& src);
// The peer's GID from the neighbour table. The kernel waits for ARP / ND and then fails with
// ETIMEDOUT; the daemon does not wait (ENODATA at once, what addr.c's first lookup finds).
Expected<wire::Gid, int> ib_peer_gid(const IpoibLookup& ipoib, const IpEndpoint& dst);

// What rdma_cm asks the SA for an ID: our GID to the peer's in the ID's partition, for its
// service ID, with QoSClass = the ID's type of service (IPv4) or TClass = the source's traffic
// class (IPv6).
sa::PathRequest path_request(const proto::Route& r, uint64_t service_id, uint8_t tos);
// The SA's path into the route the program sees (its path_rec).
void fill_route(proto::Route& r, const sa::ResolvedPath& p);
// ROUTE_ERROR's status, as the kernel's SA client reports a query (sa_query.c): -ETIMEDOUT for
// no answer, -EINVAL for an answer with a status; a refused send is its errno.
int route_errno(const sa::QueryError& e);
// A passive ID's path: the REQ's primary path, from our side.
sa::ResolvedPath path_from_req(const wire::Req& req);

}  // namespace ibcm::daemon
