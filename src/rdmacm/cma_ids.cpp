// rdma_cma.h's channels and IDs: creation, addresses and routes, listen, connect, accept,
// reject, disconnect, options. Each call is one request to the daemon; a call whose result is an
// event (resolve, connect) waits for it only on a synchronous ID (created without a channel).
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "rdmacm/cma_state.h"
#include "rdmacm/daemon_link.h"

using ibcm::daemon::proto::Op;
using ibcm::daemon::proto::Reply;
using ibcm::daemon::proto::Request;
using namespace ibcm::rdmacm;
using ibcm::QpAttr;
using ibcm::QpState;
namespace verbs = ibcm::verbs;

namespace {

// The port of an AF_INET or AF_INET6 address as it stands there (rdma_get_src_port's result).
uint16_t port_in_network_order(const sockaddr* a) {
  return a->sa_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(a)->sin6_port
                                  : reinterpret_cast<const sockaddr_in*>(a)->sin_port;
}

Request request(Op op, rdma_cm_id* id) {
  Request r;
  r.op = op;
  if (id) r.id = priv(id)->handle;
  return r;
}

void copy_address(sockaddr_storage& out, const sockaddr* in) {
  if (!in) return;
  size_t len = in->sa_family == AF_INET    ? sizeof(sockaddr_in)
               : in->sa_family == AF_INET6 ? sizeof(sockaddr_in6)
                                           : 0;
  std::memcpy(&out, in, len);
}

// The wire form of rdma_conn_param (which may be null), as librdmacm fills it: RDMA read
// resources given are taken as they are; RDMA_MAX_RESP_RES / RDMA_MAX_INIT_DEPTH (or no
// parameters) mean what the device allows, and, accepting, no more than the REQ asked for.
ibcm::daemon::proto::ConnParam wire_conn(IdPriv& p, const rdma_conn_param* c, bool accepting) {
  ibcm::daemon::proto::ConnParam out;
  DeviceLimits dev = p.id.verbs ? device_limits(p.id.verbs) : DeviceLimits{};
  uint8_t max_resp = dev.max_responder_resources;
  uint8_t max_init = dev.max_initiator_depth;
  if (accepting) {
    max_resp = std::min(max_resp, p.req_responder_resources);
    max_init = std::min(max_init, p.req_initiator_depth);
  }
  out.responder_resources =
      c && c->responder_resources != RDMA_MAX_RESP_RES ? c->responder_resources : max_resp;
  out.initiator_depth =
      c && c->initiator_depth != RDMA_MAX_INIT_DEPTH ? c->initiator_depth : max_init;
  if (c) {
    out.flow_control = c->flow_control;
    out.retry_count = c->retry_count;
    out.rnr_retry_count = c->rnr_retry_count;
    out.srq = c->srq;
    out.qp_num = c->qp_num;
    out.private_data_len =
        static_cast<uint8_t>(std::min<size_t>(c->private_data_len, sizeof out.private_data));
    if (c->private_data && out.private_data_len)
      std::memcpy(out.private_data, c->private_data, out.private_data_len);
  } else {
    out.flow_control = 0;
    out.retry_count = 7;
    out.rnr_retry_count = 7;
  }
  if (p.id.qp) {
    out.qp_num = p.id.qp->qp_num;
    out.srq = p.id.qp->srq != nullptr;
  }
  p.responder_resources = out.responder_resources;
  p.initiator_depth = out.initiator_depth;
  return out;
}

// The private data each message has room for: a REQ's 92 bytes less rdma_cm's 36-byte header, a
// REP's, a REJ's; a UD ID's SIDR_REQ (216 less the header) and SIDR_REP (accept and reject). More
// fails EINVAL, as Linux's CM refuses it, instead of being cut short unseen.
constexpr uint8_t kReqPrivateData = 56;
constexpr uint8_t kRepPrivateData = 196;
constexpr uint8_t kRejPrivateData = 148;
constexpr uint8_t kSidrReqPrivateData = 180;
constexpr uint8_t kSidrRepPrivateData = 136;

bool ud(const rdma_cm_id* id) {
  return id->qp_type == IBV_QPT_UD;
}

bool too_long(const rdma_conn_param* c, uint8_t room) {
  return c && c->private_data && c->private_data_len > room;
}

// A synchronous ID waits for the event its call leads to; anything but `expected` (or a status)
// fails the call with that status.
void drop_sync_event(IdPriv& p);

int wait_sync(IdPriv& p, rdma_cm_event_type expected) {
  if (!p.sync) return 0;
  drop_sync_event(p);
  rdma_cm_event* ev = nullptr;
  if (rdma_get_cm_event(p.id.channel, &ev) != 0) return -1;
  int status = ev->status;
  // An ID without a QP gets CONNECT_RESPONSE where one with a QP gets ESTABLISHED: the program
  // completes it with rdma_establish (librdmacm's ucma_complete takes any event without a status).
  bool response = expected == RDMA_CM_EVENT_ESTABLISHED && !p.id.qp &&
                  ev->event == RDMA_CM_EVENT_CONNECT_RESPONSE;
  bool ok = (ev->event == expected || response) && status == 0;
  p.id.event = ev;  // kept, as librdmacm keeps it, until the next call or destroy_id
  if (ok) return 0;
  return fail(status < 0 ? -status : ECONNREFUSED);
}

void drop_sync_event(IdPriv& p) {
  if (p.sync && p.id.event) {
    rdma_ack_cm_event(p.id.event);
    p.id.event = nullptr;
  }
}

}  // namespace

extern "C" {

rdma_event_channel* rdma_create_event_channel(void) {
  Request r;
  r.op = Op::CreateChannel;
  Reply out;
  int fd = -1;
  if (int e = call(r, out, &fd); e != 0 || fd < 0) {
    errno = e != 0 ? e : EPROTO;
    return nullptr;
  }
  auto* ch = new (std::nothrow) ChannelPriv;
  if (!ch) {
    ::close(fd);
    errno = ENOMEM;
    return nullptr;
  }
  ch->channel.fd = fd;
  ch->handle = out.id;
  return &ch->channel;
}

void rdma_destroy_event_channel(rdma_event_channel* channel) {
  if (!channel) return;
  // Only closed: the daemon lets its end go once the program's is gone for good. Telling it to
  // close its end now would wake a thread still blocked in rdma_get_cm_event with an error,
  // where the kernel's channel leaves it blocked (rping's event thread is, as it exits); for the
  // same reason a channel such a thread reads stays open until it leaves (enter_channel).
  ChannelPriv* ch = priv(channel);
  bool now = false;
  {
    std::lock_guard lock(ch->mu);
    ch->destroyed = true;
    now = ch->readers == 0;
  }
  if (now) close_channel(ch);
}

int rdma_create_id(rdma_event_channel* channel, rdma_cm_id** id, void* context,
                   rdma_port_space ps) {
  if (!id) return fail(EINVAL);
  ibv_qp_type qp_type = ps == RDMA_PS_UDP || ps == RDMA_PS_IPOIB ? IBV_QPT_UD : IBV_QPT_RC;
  if (ps == RDMA_PS_IPOIB) {
    say_once("RDMA_PS_IPOIB (its Q_Key comes from an IPoIB multicast group) is not supported");
    return fail(EPROTONOSUPPORT);
  }
  bool sync = channel == nullptr;
  if (sync && !(channel = rdma_create_event_channel())) return -1;
  Request r;
  r.op = Op::CreateId;
  r.channel = priv(channel)->handle;
  r.port_space = ps;
  r.qp_type = qp_type;
  Reply out;
  if (call_or_errno(r, out) != 0) {
    if (sync) rdma_destroy_event_channel(channel);
    return -1;
  }
  auto* p = new IdPriv;
  p->handle = out.id;
  p->sync = sync;
  p->id.channel = channel;
  p->id.context = context;
  p->id.ps = ps;
  p->id.qp_type = qp_type;
  register_id(p);
  *id = &p->id;
  return 0;
}

int rdma_destroy_id(rdma_cm_id* id) {
  if (!id) return fail(EINVAL);
  IdPriv* p = priv(id);
  drop_sync_event(*p);
  Request r = request(Op::DestroyId, id);
  Reply out;
  (void)call(r, out);
  unregister_id(p->handle);  // no new event names it now
  {
    std::unique_lock lock(p->mu);
    p->acked.wait(lock, [p] { return p->unacked == 0; });
  }
  if (p->sync) rdma_destroy_event_channel(id->channel);
  delete p;
  return 0;
}

int rdma_bind_addr(rdma_cm_id* id, sockaddr* addr) {
  if (!id || !addr) return fail(EINVAL);
  Request r = request(Op::BindAddr, id);
  copy_address(r.src, addr);
  Reply out;
  if (call_or_errno(r, out) != 0) return -1;
  apply_route(*priv(id), out.route);
  return 0;
}

int rdma_resolve_addr(rdma_cm_id* id, sockaddr* src_addr, sockaddr* dst_addr, int timeout_ms) {
  if (!id || !dst_addr) return fail(EINVAL);
  IdPriv& p = *priv(id);
  drop_sync_event(p);
  Request r = request(Op::ResolveAddr, id);
  copy_address(r.src, src_addr);
  copy_address(r.dst, dst_addr);
  r.arg = timeout_ms;
  Reply out;
  if (call_or_errno(r, out) != 0) return -1;
  if (out.route.resolved) apply_route(p, out.route);
  return wait_sync(p, RDMA_CM_EVENT_ADDR_RESOLVED);
}

int rdma_resolve_route(rdma_cm_id* id, int timeout_ms) {
  if (!id) return fail(EINVAL);
  IdPriv& p = *priv(id);
  drop_sync_event(p);
  Request r = request(Op::ResolveRoute, id);
  r.arg = timeout_ms;
  Reply out;
  if (call_or_errno(r, out) != 0) return -1;
  apply_route(p, out.route);
  return wait_sync(p, RDMA_CM_EVENT_ROUTE_RESOLVED);
}

int rdma_listen(rdma_cm_id* id, int backlog) {
  if (!id) return fail(EINVAL);
  Request r = request(Op::Listen, id);
  r.arg = backlog;
  Reply out;
  return call_or_errno(r, out);
}

int rdma_connect(rdma_cm_id* id, rdma_conn_param* conn_param) {
  if (!id || too_long(conn_param, ud(id) ? kSidrReqPrivateData : kReqPrivateData))
    return fail(EINVAL);
  IdPriv& p = *priv(id);
  drop_sync_event(p);
  // What the kernel's rdma_connect refuses at once (no route, a connection already) is refused
  // here; the rest comes as an event, so the call does not wait for the daemon (a round trip
  // per connection was most of the time rdma_connect took). A REQ the daemon cannot send comes
  // as UNREACHABLE.
  if (p.route.resolved < 2 || p.has_conn) return fail(EINVAL);
  Request r = request(Op::Connect, id);
  r.conn = wire_conn(p, conn_param, false);
  if (int e = post(r); e != 0) return fail(e);
  p.has_conn = true;
  return wait_sync(p, RDMA_CM_EVENT_ESTABLISHED);
}

int rdma_accept(rdma_cm_id* id, rdma_conn_param* conn_param) {
  if (!id || too_long(conn_param, ud(id) ? kSidrRepPrivateData : kRepPrivateData))
    return fail(EINVAL);
  IdPriv& p = *priv(id);
  Request r = request(Op::Accept, id);
  r.conn = wire_conn(p, conn_param, true);
  // As librdmacm: the QP goes to RTR (with the access the agreed responder resources allow) and
  // RTS before the REP; it cannot send before the peer has the REP anyway. A UD QP is in RTS
  // since rdma_create_qp, and its SIDR_REP is the end of it: nothing to wait for.
  if (ud(id)) {
    Reply out;
    return call_or_errno(r, out);
  }
  if (p.id.qp) {
    if (p.req_rtr.state != QpState::Rtr) return fail(EINVAL);  // not a request's ID
    QpAttr rtr = p.req_rtr;
    QpAttr rts = p.req_rts;
    rtr.max_dest_rd_atomic = p.responder_resources;
    rts.max_rd_atomic = p.initiator_depth;
    for (const QpAttr& a : {rtr, rts})
      if (int e = move_qp(p, a); e != 0) {
        abandon(p);
        return fail(e);
      }
  }
  Reply out;
  if (call_or_errno(r, out) != 0) {
    (void)qp_to_error(p);
    return -1;
  }
  return wait_sync(p, RDMA_CM_EVENT_ESTABLISHED);
}

int rdma_reject(rdma_cm_id* id, const void* private_data, uint8_t private_data_len) {
  uint8_t room = id && ud(id) ? kSidrRepPrivateData : kRejPrivateData;
  if (!id || (private_data && private_data_len > room)) return fail(EINVAL);
  Request r = request(Op::Reject, id);
  r.conn.private_data_len = private_data ? private_data_len : 0;
  if (private_data) std::memcpy(r.conn.private_data, private_data, r.conn.private_data_len);
  Reply out;
  return call_or_errno(r, out);
}

int rdma_disconnect(rdma_cm_id* id) {
  if (!id) return fail(EINVAL);
  IdPriv& p = *priv(id);
  // As the kernel's: EINVAL without a connection; otherwise the QP goes to ERR (its work
  // requests flush), then a DREQ, or the DREP when the peer's DREQ came first, or nothing when
  // the connection is over already, and the call returns 0 in each case. So the daemon is told
  // without waiting for its answer.
  if (!p.has_conn) return fail(EINVAL);
  (void)qp_to_error(p);
  Request r = request(Op::Disconnect, id);
  if (int e = post(r); e != 0) return fail(e);
  return 0;
}

int rdma_establish(rdma_cm_id* id) {
  if (!id) return fail(EINVAL);
  Request r = request(Op::Establish, id);
  Reply out;
  return call_or_errno(r, out);
}

int rdma_init_qp_attr(rdma_cm_id* id, ibv_qp_attr* qp_attr, int* qp_attr_mask) {
  if (!id || !qp_attr || !qp_attr_mask) return fail(EINVAL);
  QpState target;
  switch (qp_attr->qp_state) {
    case IBV_QPS_INIT:
      target = QpState::Init;
      break;
    case IBV_QPS_RTR:
      target = QpState::Rtr;
      break;
    case IBV_QPS_RTS:
      target = QpState::Rts;
      break;
    case IBV_QPS_ERR:
      target = QpState::Err;
      break;
    default:
      return fail(EINVAL);
  }
  Request r = request(Op::InitQpAttr, id);
  r.arg = static_cast<int32_t>(target);
  Reply out;
  if (call_or_errno(r, out) != 0) return -1;
  verbs::IbvModify m = verbs::to_ibv(out.qp_attr, qp_context(*priv(id)));
  *qp_attr = m.attr;
  *qp_attr_mask = m.mask;
  return 0;
}

int rdma_migrate_id(rdma_cm_id* id, rdma_event_channel* channel) {
  if (!id) return fail(EINVAL);
  IdPriv& p = *priv(id);
  bool sync = channel == nullptr;
  if (sync && !(channel = rdma_create_event_channel())) return -1;
  Request r = request(Op::MigrateId, id);
  r.channel = priv(channel)->handle;
  Reply out;
  if (call_or_errno(r, out) != 0) {
    if (sync) rdma_destroy_event_channel(channel);
    return -1;
  }
  if (p.sync) rdma_destroy_event_channel(id->channel);
  id->channel = channel;
  p.sync = sync;
  return 0;
}

int rdma_set_option(rdma_cm_id* id, int level, int optname, void* optval, size_t optlen) {
  if (!id || !optval) return fail(EINVAL);
  if (level == RDMA_OPTION_ID && optname == RDMA_OPTION_ID_TOS && optlen == sizeof(uint8_t)) {
    Request r = request(Op::SetTos, id);
    r.arg = *static_cast<uint8_t*>(optval);
    Reply out;
    return call_or_errno(r, out);
  }
  // Address reuse and IPv6-only are the daemon's choice: ports are not shared across IDs, and an
  // IPv6 listener on any address takes IPv4 too, as with IPV6_V6ONLY off. The ACK timeout is the
  // path's (the REQ carries it).
  if (level == RDMA_OPTION_ID &&
      (optname == RDMA_OPTION_ID_REUSEADDR || optname == RDMA_OPTION_ID_AFONLY ||
       optname == RDMA_OPTION_ID_ACK_TIMEOUT))
    return 0;
  say_once("rdma_set_option: RDMA_OPTION_IB_PATH (paths from the program) is not supported");
  return fail(ENOSYS);
}

int rdma_notify(rdma_cm_id* id, ibv_event_type event) {
  if (!id) return fail(EINVAL);
  // IBV_EVENT_COMM_EST: data came before the RTU, so the passive side is ESTABLISHED now rather
  // than when the REP's retry brings the RTU again; IBV_EVENT_PATH_MIG: the alternate path is
  // the primary now. The CM acts on no other event (EINVAL, as the kernel's ib_cm_notify).
  Request r = request(Op::Notify, id);
  if (event == IBV_EVENT_COMM_EST)
    r.arg = static_cast<int32_t>(ibcm::daemon::proto::NotifyEvent::CommEst);
  else if (event == IBV_EVENT_PATH_MIG)
    r.arg = static_cast<int32_t>(ibcm::daemon::proto::NotifyEvent::PathMig);
  else
    return fail(EINVAL);
  Reply out;
  return call_or_errno(r, out);
}

uint16_t rdma_get_src_port(rdma_cm_id* id) {
  return port_in_network_order(&id->route.addr.src_addr);
}

uint16_t rdma_get_dst_port(rdma_cm_id* id) {
  return port_in_network_order(&id->route.addr.dst_addr);
}

int rdma_get_request(rdma_cm_id* listen, rdma_cm_id** id) {
  if (!listen || !id) return fail(EINVAL);
  IdPriv& p = *priv(listen);
  if (!p.sync) return fail(EINVAL);
  for (;;) {
    rdma_cm_event* ev = nullptr;
    if (rdma_get_cm_event(listen->channel, &ev) != 0) return -1;
    if (ev->status != 0) {
      int e = ev->status < 0 ? -ev->status : ECONNREFUSED;
      rdma_ack_cm_event(ev);
      return fail(e);
    }
    if (ev->event != RDMA_CM_EVENT_CONNECT_REQUEST) {
      rdma_ack_cm_event(ev);
      continue;
    }
    *id = ev->id;
    IdPriv& child = *priv(ev->id);
    // A synchronous listener's requests are synchronous IDs of their own.
    if (rdma_migrate_id(ev->id, nullptr) != 0) {
      rdma_ack_cm_event(ev);
      return -1;
    }
    child.id.event = ev;
    if (p.passive_qp) {
      ibv_qp_init_attr attr = p.passive_attr;
      if (rdma_create_qp(ev->id, p.passive_pd, &attr) != 0) {
        int e = errno;
        rdma_reject(ev->id, nullptr, 0);
        rdma_destroy_id(ev->id);
        return fail(e);
      }
    }
    return 0;
  }
}

}  // extern "C"
