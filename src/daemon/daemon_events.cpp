// Engine events as rdma_cm events on the owning ID's channel, as the kernel's cma.c reports them
// (cma_ib_handler, cma_ib_req_handler): what each CM message or timeout becomes, its status, its
// private data and the connection parameters.
#include <rdma/rdma_cma.h>

#include <algorithm>
#include <cerrno>

#include "daemon/daemon_state.h"
#include "daemon/ib_route.h"
#include "daemon/route.h"
#include "ibcm/transport/rdma_cm_params.h"
#include "ibcm/wire/rdma_cm.h"

namespace ibcm::daemon {

namespace {

// Once a connection is over for its program, DISCONNECTED is said once (cma_comp_exch).
bool first_disconnect(Id& id) {
  if (id.state == IdState::Disconnected || id.state == IdState::Failed) return false;
  id.state = IdState::Disconnected;
  return true;
}

// A REQ's or REP's side of the connection parameters, seen from here (cm_format_req_event and
// cm_format_rep_event swap responder resources and initiator depth), its private data from
// `offset` (past rdma_cm's header in a REQ), and the QP attributes the engine has for the
// connection now.
template <class M>
void peer_side(proto::Event& ev, const M& m, size_t offset, Cm& cm, ConnId conn) {
  ev.conn.responder_resources = m.initiator_depth;
  ev.conn.initiator_depth = m.responder_resources;
  ev.conn.flow_control = m.end_to_end_flow_control;
  ev.conn.rnr_retry_count = m.rnr_retry_count;
  ev.conn.srq = m.srq;
  ev.conn.qp_num = m.local_qpn;
  proto::copy_private(ev.conn, m.private_data, offset);
  if (auto a = cm.qp_attributes(conn, QpState::Rtr)) ev.rtr = *a;
  if (auto a = cm.qp_attributes(conn, QpState::Rts)) ev.rts = *a;
}

}  // namespace

Id* CmDaemon::State::passive_id(Id& listener, const IpEndpoint& src, const IpEndpoint& dst,
                                const wire::Req* req) {
  const bool ib = is_infiniband(port) && req;
  auto local = ib ? ib_port_route(port, req->primary.remote_gid, req->partition_key)
                  : local_route(port, config.ipoib, src);
  if (!local) return nullptr;
  Id child;
  child.handle = next_handle++;
  child.program = listener.program;
  child.channel = listener.channel;
  child.port_space = listener.port_space;
  child.qp_type = listener.qp_type;
  child.state = IdState::ConnectRequest;
  child.listener = listener.handle;
  child.psn = random() & 0xFFFFFF;
  child.src = src;
  child.dst = dst;
  child.route = *local;
  if (ib) {
    child.route.src = src.addr;
    child.route.dst = dst.addr;
    fill_route(child.route, path_from_req(*req));
  } else {
    complete_route(child.route, port, dst, listener.tos);
  }
  child.in_backlog = true;
  ++listener.pending;
  programs[child.program].ids.insert(child.handle);
  return &ids.emplace(child.handle, child).first->second;
}

bool CmDaemon::State::backlog_full(const Id& listener) {
  if (listener.pending < listener.backlog) return false;
  ++counters.reqs_over_backlog;
  say("program " + std::to_string(programs[listener.program].pid) + ": a request to port " +
      std::to_string(listener.src.port()) + " past its listen backlog of " +
      std::to_string(listener.backlog) + " requests not yet read, refused");
  return true;
}

void CmDaemon::State::leave_backlog(Id& id) {
  if (!id.in_backlog) return;
  id.in_backlog = false;
  auto l = ids.find(id.listener);
  if (l != ids.end() && l->second.pending > 0) --l->second.pending;
}

void CmDaemon::State::on_event(Cm& cm, Time now, const Event& e) {
  if (on_sidr_event(cm, now, e)) return;
  if (const auto* req = std::get_if<ev::ReqReceived>(&e)) {
    if (lobby != 0 && req->listener == lobby) return hold(cm, now, *req);
    auto l = by_listen.find(req->listener);
    auto hdr = wire::rdma_cm::decode_header(req->req.private_data);
    // A UD listener takes SIDR_REQs only (cma_ib_check_req_qp_type).
    Id* child = nullptr;
    if (l != by_listen.end() && hdr && !ids[l->second].ud()) {  // UD listeners take SIDR only
      Id& listener = ids[l->second];
      if (backlog_full(listener)) {  // the kernel's CM rejects as its consumer: REJ 28
        (void)cm.reject(now, req->conn, wire::RejReason::ConsumerDefined);
        return;
      }
      // Our address is the REQ's destination, the peer's its source: on RoCE their GIDs, on
      // InfiniBand the rdma_cm header's, and the path the REQ's.
      const bool ib = is_infiniband(port);
      auto src = ib ? header_endpoint(*hdr, hdr->dst_addr, listener.src.port())
                    : endpoint_of(req->req.primary.remote_gid, listener.src.port());
      auto dst = ib ? header_endpoint(*hdr, hdr->src_addr, hdr->src_port)
                    : endpoint_of(req->req.primary.local_gid, hdr->src_port);
      child = passive_id(listener, src, dst, &req->req);
    }
    if (!child) {
      (void)cm.reject(now, req->conn, wire::RejReason::InvalidServiceId);
      return;
    }
    child->conn = req->conn;
    child->route.mtu = static_cast<uint8_t>(req->req.path_mtu);
    by_conn[req->conn] = child->handle;
    proto::Event ev = proto::event_of(RDMA_CM_EVENT_CONNECT_REQUEST);
    ev.listen_id = child->listener;
    ev.route = child->route;
    peer_side(ev, req->req, wire::rdma_cm::kHeaderSize, cm, req->conn);
    ev.conn.retry_count = req->req.retry_count;
    // RTR and RTS as they stand before the accept (our starting PSN is the child's): the library
    // moves the program's QP in rdma_accept without asking for them.
    ev.rtr.rq_psn = ev.rts.rq_psn = child->psn;
    post(*child, ev);
    return;
  }

  auto c = by_conn.find(event_conn(e));
  if (c == by_conn.end()) return;
  auto i = ids.find(c->second);
  if (i == ids.end()) return;
  Id& id = i->second;
  leave_backlog(id);  // a passive ID hears from the engine only once it is answered or over

  if (const auto* rep = std::get_if<ev::RepReceived>(&e)) {
    if (id.state != IdState::Connecting) return;
    id.state = IdState::ConnectResponse;
    proto::Event ev = proto::event_of(RDMA_CM_EVENT_CONNECT_RESPONSE);
    peer_side(ev, rep->rep, 0, cm, id.conn);
    ev.route = id.route;
    post(id, ev);
  } else if (std::holds_alternative<ev::Established>(e)) {
    // The active side's ESTABLISHED is the library's: it turns CONNECT_RESPONSE into it.
    if (id.active) return;
    id.state = IdState::Connected;
    post(id, proto::event_of(RDMA_CM_EVENT_ESTABLISHED));
  } else if (const auto* rej = std::get_if<ev::RejReceived>(&e)) {
    id.state = IdState::Failed;
    proto::Event ev = proto::event_of(RDMA_CM_EVENT_REJECTED, static_cast<int>(rej->rej.reason));
    proto::copy_private(ev.conn, rej->rej.private_data);
    post(id, ev);
  } else if (const auto* ab = std::get_if<ev::Aborted>(&e)) {
    id.state = IdState::Failed;
    post(id, proto::event_of(RDMA_CM_EVENT_REJECTED, static_cast<int>(ab->reason)));
  } else if (std::holds_alternative<ev::ReqTimeout>(e) ||
             std::holds_alternative<ev::RepTimeout>(e)) {
    id.state = IdState::Failed;
    post(id, proto::event_of(RDMA_CM_EVENT_UNREACHABLE, -ETIMEDOUT));
  } else if (std::holds_alternative<ev::DreqReceived>(e) ||
             std::holds_alternative<ev::DrepReceived>(e) ||
             std::holds_alternative<ev::StaleConnection>(e)) {
    if (first_disconnect(id)) post(id, proto::event_of(RDMA_CM_EVENT_DISCONNECTED));
  } else if (std::holds_alternative<ev::DreqTimeout>(e)) {
    if (first_disconnect(id)) post(id, proto::event_of(RDMA_CM_EVENT_DISCONNECTED, -ETIMEDOUT));
  } else if (std::holds_alternative<ev::TimeWaitExit>(e)) {
    by_conn.erase(c);
    id.conn = 0;
    post(id, proto::event_of(RDMA_CM_EVENT_TIMEWAIT_EXIT));
  }
}

}  // namespace ibcm::daemon
