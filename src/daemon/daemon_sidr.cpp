// UD IDs (RDMA_PS_UDP): rdma_connect sends SIDR_REQ, rdma_accept and rdma_reject answer one with
// SIDR_REP, and what comes back becomes the program's events, as the kernel's cma.c does it
// (cma_resolve_ib_udp, cma_send_sidr_rep, cma_sidr_rep_handler, cma_ib_req_handler). There is no
// RTU and no disconnect: a SIDR_REP that says yes is the whole connection.
#include <rdma/rdma_cma.h>

#include <algorithm>
#include <cerrno>

#include "daemon/daemon_state.h"
#include "ibcm/transport/rdma_cm_params.h"
#include "ibcm/wire/rdma_cm.h"

namespace ibcm::daemon {

namespace {

// The SIDR_REP's private data (136 bytes).
constexpr size_t kSidrRepPrivateData = 136;

}  // namespace

int CmDaemon::State::sidr_connect(Cm& cm, Time now, Id& id, const proto::ConnParam& c) {
  if (id.state != IdState::RouteResolved) return EINVAL;
  namespace rc = wire::rdma_cm;
  // rdma_cm's header, then the program's private data, as in a REQ.
  std::array<uint8_t, rc::kHeaderSize + rc::kMaxSidrReqUserData> pd{};
  size_t user = std::min<size_t>(c.private_data_len, rc::kMaxSidrReqUserData);
  write_rdma_cm_header(id.src, id.dst, id.src.port(), pd);
  std::copy_n(c.private_data, user, pd.begin() + rc::kHeaderSize);
  SidrParams p;
  p.service_id = rc::service_id(static_cast<rc::PortSpace>(id.port_space), id.dst.port());
  p.dest.gid = gid_of(id.dst);
  p.dest.port = 0;
  p.pkey = id.route.pkey;
  p.private_data = std::span<const uint8_t>(pd.data(), rc::kHeaderSize + user);
  // rdma_cm's timing: 2^(response timeout - 8) ms a try (4096 ms for its 20), and its retries.
  p.timeout = std::chrono::milliseconds(1 << std::max(config.cm_response_timeout - 8, 0));
  p.max_retries = config.max_cm_retries;
  auto s = cm.sidr_request(now, p);
  if (!s) return errno_of(s.error());
  id.sidr = *s;
  id.active = true;
  by_sidr[*s] = id.handle;
  id.state = IdState::Connecting;
  return 0;
}

int CmDaemon::State::sidr_answer(Cm& cm, Time now, Id& id, wire::SidrStatus status,
                                 const proto::ConnParam& c) {
  if (id.state != IdState::ConnectRequest) return EINVAL;
  SidrReplyParams rp;
  rp.status = status;
  if (status == wire::SidrStatus::Success) {  // a rejection names no QP
    rp.qpn = c.qp_num & 0xFFFFFF;
    rp.qkey = wire::rdma_cm::kUdpQkey;
  }
  rp.private_data = std::span<const uint8_t>(
      c.private_data, std::min<size_t>(c.private_data_len, kSidrRepPrivateData));
  if (auto s = cm.sidr_reply(now, id.sidr, rp); !s) return errno_of(s.error());
  id.state = status == wire::SidrStatus::Success ? IdState::Connected : IdState::Failed;
  return 0;
}

void CmDaemon::State::sidr_end(Cm& cm, Time now, Id& id) {
  if (id.active) {
    by_sidr.erase(id.sidr);  // the engine's retries run out unheard
  } else if (id.state == IdState::ConnectRequest) {
    // As the kernel's CM when a request's ID goes unanswered (cm_destroy_id): REJECT.
    SidrReplyParams rp;
    rp.status = wire::SidrStatus::Rejected;
    (void)cm.sidr_reply(now, id.sidr, rp);
  }
}

bool CmDaemon::State::on_sidr_event(Cm& cm, Time now, const Event& e) {
  if (const auto* req = std::get_if<ev::SidrReqReceived>(&e)) {
    auto l = by_listen.find(req->listener);
    auto hdr = wire::rdma_cm::decode_header(req->req.private_data);
    Id* child = nullptr;
    if (l != by_listen.end() && hdr && ids[l->second].ud()) {
      Id& listener = ids[l->second];
      if (backlog_full(listener)) {  // the kernel's CM answers REJECT
        SidrReplyParams rp;
        rp.status = wire::SidrStatus::Rejected;
        (void)cm.sidr_reply(now, req->id, rp);
        return true;
      }
      // A SIDR_REQ has no path: the header alone names both addresses, ours its destination.
      child = passive_id(listener, header_endpoint(*hdr, hdr->dst_addr, listener.src.port()),
                         header_endpoint(*hdr, hdr->src_addr, hdr->src_port));
    }
    if (!child) {  // the kernel's rdma_cm refuses it, and its CM answers REJECT
      SidrReplyParams rp;
      // No program listens on the port (the lobby caught it): what the engine answers when no
      // listener matches. SIDR_REQs are not held: a UD requester retries by itself.
      rp.status = lobby != 0 && req->listener == lobby ? wire::SidrStatus::ServiceIdNotSupported
                                                       : wire::SidrStatus::Rejected;
      (void)cm.sidr_reply(now, req->id, rp);
      return true;
    }
    child->sidr = req->id;
    proto::Event ev = proto::event_of(RDMA_CM_EVENT_CONNECT_REQUEST);
    ev.listen_id = child->listener;
    ev.route = child->route;
    proto::copy_private(ev.conn, req->req.private_data, wire::rdma_cm::kHeaderSize);
    post(*child, ev);
    return true;
  }
  SidrId sidr = 0;
  if (const auto* rep = std::get_if<ev::SidrRepReceived>(&e)) {
    sidr = rep->id;
  } else if (const auto* t = std::get_if<ev::SidrTimeout>(&e)) {
    sidr = t->id;
  } else {
    return false;
  }
  auto owner = by_sidr.find(sidr);
  if (owner == by_sidr.end()) return true;  // its ID is gone
  auto found = ids.find(owner->second);
  by_sidr.erase(owner);
  if (found == ids.end()) return true;
  Id& id = found->second;
  proto::Event ev = proto::event_of(RDMA_CM_EVENT_UNREACHABLE, -ETIMEDOUT);
  if (const auto* rep = std::get_if<ev::SidrRepReceived>(&e)) {
    if (rep->rep.status == wire::SidrStatus::Success) {
      ev = proto::event_of(RDMA_CM_EVENT_ESTABLISHED);
      ev.conn.qp_num = rep->rep.qpn;
      ev.qkey = rep->rep.qkey;
    } else {  // the SIDR status itself: 1 no such service, 2 rejected, ...
      ev.status = static_cast<int32_t>(rep->rep.status);
    }
    proto::copy_private(ev.conn, rep->rep.private_data);
  }
  id.state = ev.event == RDMA_CM_EVENT_ESTABLISHED ? IdState::Connected : IdState::Failed;
  post(id, ev);
  return true;
}

}  // namespace ibcm::daemon
