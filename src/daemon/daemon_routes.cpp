// rdma_resolve_route on an InfiniBand port: one SA PathRecord query per ID through the daemon's
// SA client, whose MADs and timer the runtime's loop watches; each answer becomes the ID's
// ROUTE_RESOLVED or ROUTE_ERROR, as the kernel's cma_query_handler reports it.
#include <rdma/rdma_cma.h>

#include "daemon/daemon_state.h"
#include "daemon/ib_route.h"
#include "ibcm/umad/port_info.h"
#include "ibcm/wire/rdma_cm.h"

namespace ibcm::daemon {

Expected<std::unique_ptr<sa::PathClient>, std::string> libibumad_path_client(
    const ServedPort& port) {
  auto info = umad::read_port_info(umad::kSysfsInfiniband, port.device, port.port_num);
  if (!info) return Unexpected{port.device + " port " + std::to_string(port.port_num) + ": gone"};
  auto where = sa::sa_address_of(*info, umad::kSysfsInfiniband);
  if (!where) return Unexpected{where.error()};
  auto umad_port = umad::open_libibumad_port(port.device, port.port_num);
  if (!umad_port) return Unexpected{umad_port.error().message};
  auto client = sa::PathClient::open(std::move(*umad_port), *where);
  if (!client) return Unexpected{client.error().message};
  return std::move(*client);
}

int CmDaemon::State::query_route(Time now, Id& id) {
  if (!sa) {
    auto opened = config.open_path_client ? config.open_path_client(port)
                                          : Unexpected{std::string("no SA client")};
    if (!opened) {
      say("cannot ask the SA for a path: " + opened.error());
      return EAGAIN;
    }
    sa = std::move(*opened);
    rt->watch(sa->fd(), [this](Cm&, Time t) {
      sa->on_readable(t);
      (void)deliver_routes();
    });
    rt->watch(sa->timer_fd(), [this](Cm&, Time t) {
      sa->on_timer(t);
      (void)deliver_routes();
    });
  }
  auto sid = wire::rdma_cm::service_id(static_cast<wire::rdma_cm::PortSpace>(id.port_space),
                                       id.dst.port());
  sa::QueryId q = sa->resolve(now, path_request(id.route, sid, id.tos));
  by_query[q] = id.handle;
  id.route_query = q;
  id.state = IdState::RouteQuery;
  return deliver_routes(q);
}

int CmDaemon::State::deliver_routes(sa::QueryId sync) {
  int sync_errno = 0;
  for (sa::PathAnswer& a : sa->take_answers()) {
    auto owner = by_query.find(a.id);
    if (owner == by_query.end()) continue;
    auto it = ids.find(owner->second);
    by_query.erase(owner);
    if (it == ids.end()) continue;
    Id& id = it->second;
    id.route_query = 0;
    if (a.result) {
      id.path = *a.result;
      fill_route(id.route, *a.result);
      resolved(id, IdState::RouteResolved, RDMA_CM_EVENT_ROUTE_RESOLVED);
      continue;
    }
    // As cma_query_handler: back to ADDR_RESOLVED, so that the program may ask again.
    id.state = IdState::AddrResolved;
    const sa::QueryError& err = a.result.error();
    say("no path to " + id.dst.to_string() + ": " + sa::describe(err, a.tries));
    if (a.id == sync && err.kind == sa::QueryErrorKind::SendFailed) {
      sync_errno = route_errno(err);  // the call fails, as ib_sa_path_rec_get's error does
    } else {
      post(id, proto::event_of(RDMA_CM_EVENT_ROUTE_ERROR, -route_errno(err)));
    }
  }
  return sync_errno;
}

void CmDaemon::State::cancel_route(Id& id) {
  if (id.route_query == 0) return;
  if (sa) (void)sa->cancel(id.route_query);
  by_query.erase(id.route_query);
  id.route_query = 0;
}

void CmDaemon::State::close_sa() {
  if (!sa) return;
  rt->unwatch(sa->fd());
  rt->unwatch(sa->timer_fd());
  sa.reset();
}

}  // namespace ibcm::daemon
