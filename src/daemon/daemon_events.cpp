// Engine events as rdma_cm events on the owning ID's channel, as the kernel's cma.c reports them
// (cma_ib_handler, cma_ib_req_handler): what each CM message or timeout becomes, its status, its
// private data and the connection parameters.
#include <rdma/rdma_cma.h>

#include <algorithm>
#include <cerrno>

#include "daemon/daemon_state.h"
#include "daemon/ib_route.h"
#include "daemon/route.h"
#include "ibcm/wire/rdma_cm.h"

namespace ibcm::daemon {

namespace {

template <size_t N>
void copy_private(proto::ConnParam& c, const std::array<uint8_t, N>& pd, size_t offset = 0) {
  size_t n = std::min(N - offset, sizeof c.private_data);
  std::copy_n(pd.begin() + offset, n, c.private_data);
  c.private_data_len = static_cast<uint8_t>(n);
}

// Once a connection is over for its program, DISCONNECTED is said once (cma_comp_exch).
bool first_disconnect(Id& id) {
  if (id.state == IdState::Disconnected || id.state == IdState::Failed) return false;
  id.state = IdState::Disconnected;
  return true;
}

}  // namespace

void CmDaemon::State::on_event(Cm& cm, Time now, const Event& e) {
  if (const auto* req = std::get_if<ev::ReqReceived>(&e)) {
    auto l = by_listen.find(req->listener);
    auto hdr = wire::rdma_cm::decode_header(req->req.private_data);
    if (l == by_listen.end() || !hdr) {
      (void)cm.reject(now, req->conn, wire::RejReason::InvalidServiceId);
      return;
    }
    Id& listener = ids[l->second];
    Id child;
    child.handle = next_handle++;
    child.program = listener.program;
    child.channel = listener.channel;
    child.port_space = listener.port_space;
    child.qp_type = listener.qp_type;
    child.state = IdState::ConnectRequest;
    child.conn = req->conn;
    child.listener = listener.handle;
    child.psn = random() & 0xFFFFFF;
    // Our address is the REQ's destination, the peer's its source: on RoCE their GIDs, on
    // InfiniBand the rdma_cm header's, and the path the REQ's.
    const bool ib = is_infiniband(port);
    child.src = ib ? header_endpoint(hdr->dst_addr, hdr->ip_version, listener.src.port())
                   : endpoint_of(req->req.primary.remote_gid, listener.src.port());
    child.dst = ib ? header_endpoint(hdr->src_addr, hdr->ip_version, hdr->src_port)
                   : endpoint_of(req->req.primary.local_gid, hdr->src_port);
    auto local = ib ? ib_port_route(port, req->req.primary.remote_gid, req->req.partition_key)
                    : local_route(port, config.ipoib, child.src);
    if (!local) {
      (void)cm.reject(now, req->conn, wire::RejReason::InvalidServiceId);
      return;
    }
    child.route = *local;
    if (ib) {
      child.route.src = child.src.addr;
      child.route.dst = child.dst.addr;
      fill_route(child.route, path_from_req(req->req));
    } else {
      complete_route(child.route, port, child.dst, listener.tos);
    }
    child.route.mtu = static_cast<uint8_t>(req->req.path_mtu);
    programs[child.program].ids.insert(child.handle);
    by_conn[req->conn] = child.handle;
    proto::Event ev = proto::event_of(RDMA_CM_EVENT_CONNECT_REQUEST);
    ev.listen_id = listener.handle;
    ev.route = child.route;
    // The REQ's side of the parameters, seen from here (cm_format_req_event swaps them).
    ev.conn.responder_resources = req->req.initiator_depth;
    ev.conn.initiator_depth = req->req.responder_resources;
    ev.conn.flow_control = req->req.end_to_end_flow_control;
    ev.conn.retry_count = req->req.retry_count;
    ev.conn.rnr_retry_count = req->req.rnr_retry_count;
    ev.conn.srq = req->req.srq;
    ev.conn.qp_num = req->req.local_qpn;
    copy_private(ev.conn, req->req.private_data, wire::rdma_cm::kHeaderSize);
    // RTR and RTS as they stand before the accept (our starting PSN is the child's): the library
    // moves the program's QP in rdma_accept without asking for them.
    if (auto a = cm.qp_attributes(req->conn, QpState::Rtr)) ev.rtr = *a;
    if (auto a = cm.qp_attributes(req->conn, QpState::Rts)) ev.rts = *a;
    ev.rtr.rq_psn = ev.rts.rq_psn = child.psn;
    auto [it, _] = ids.emplace(child.handle, child);
    post(it->second, ev);
    return;
  }

  auto c = by_conn.find(event_conn(e));
  if (c == by_conn.end()) return;
  auto i = ids.find(c->second);
  if (i == ids.end()) return;
  Id& id = i->second;

  if (const auto* rep = std::get_if<ev::RepReceived>(&e)) {
    if (id.state != IdState::Connecting) return;
    id.state = IdState::ConnectResponse;
    proto::Event ev = proto::event_of(RDMA_CM_EVENT_CONNECT_RESPONSE);
    ev.conn.responder_resources = rep->rep.initiator_depth;
    ev.conn.initiator_depth = rep->rep.responder_resources;
    ev.conn.flow_control = rep->rep.end_to_end_flow_control;
    ev.conn.rnr_retry_count = rep->rep.rnr_retry_count;
    ev.conn.srq = rep->rep.srq;
    ev.conn.qp_num = rep->rep.local_qpn;
    copy_private(ev.conn, rep->rep.private_data);
    if (auto a = cm.qp_attributes(id.conn, QpState::Rtr)) ev.rtr = *a;
    if (auto a = cm.qp_attributes(id.conn, QpState::Rts)) ev.rts = *a;
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
    copy_private(ev.conn, rej->rej.private_data);
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
