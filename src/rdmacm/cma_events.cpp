// rdma_get_cm_event / rdma_ack_cm_event: the daemon's event records as librdmacm's events. As
// librdmacm does, a CONNECT_RESPONSE on an ID with a QP is completed here (RTR, RTS, then the
// RTU) and reaches the program as ESTABLISHED; a REJECTED or UNREACHABLE moves the QP to ERR. A UD
// ID's events carry rdma_ud_param and leave its QP alone.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ibcm/wire/rdma_cm.h"
#include "rdmacm/cma_state.h"
#include "rdmacm/daemon_link.h"

using ibcm::daemon::proto::Event;
using ibcm::daemon::proto::Op;
using ibcm::daemon::proto::Reply;
using ibcm::daemon::proto::Request;
using namespace ibcm::rdmacm;

namespace {

// The event's own copy of the private data (null when there is none).
const void* keep_private(EventPriv& e, const ibcm::daemon::proto::ConnParam& c) {
  std::memcpy(e.private_data, c.private_data, c.private_data_len);
  return c.private_data_len ? e.private_data : nullptr;
}

void copy_conn(EventPriv& e, const ibcm::daemon::proto::ConnParam& c) {
  rdma_conn_param& out = e.event.param.conn;
  out.responder_resources = c.responder_resources;
  out.initiator_depth = c.initiator_depth;
  out.flow_control = c.flow_control;
  out.retry_count = c.retry_count;
  out.rnr_retry_count = c.rnr_retry_count;
  out.srq = c.srq;
  out.qp_num = c.qp_num;
  out.private_data = keep_private(e, c);
  out.private_data_len = c.private_data_len;
}

// The address handle's attributes for the peer of a UD ID, from the ID's route, as the kernel's
// from its path record (ib_init_ah_attr_from_path).
ibv_ah_attr ud_address(const IdPriv& p) {
  const ibcm::daemon::proto::Route& r = p.route;
  ibcm::wire::PathInfo path;
  std::copy_n(r.sgid, sizeof r.sgid, path.local_gid.begin());
  std::copy_n(r.dgid, sizeof r.dgid, path.remote_gid.begin());
  path.local_lid = r.slid;
  path.remote_lid = r.dlid;
  path.flow_label = r.flow_label;
  path.traffic_class = r.traffic_class;
  path.hop_limit = r.hop_limit;
  path.sl = r.sl;
  path.packet_rate = r.rate;
  return ibcm::verbs::address_vector(path, qp_context(p));
}

// A UD ID's rdma_ud_param: the private data; ESTABLISHED (a SIDR_REP that said yes) also names
// the peer's QP, its Q_Key and how to reach it. A CONNECT_REQUEST names none of them, as the
// kernel's (the requester's QP comes with its first datagram).
void copy_ud(EventPriv& e, const IdPriv& p, const Event& r) {
  rdma_ud_param& out = e.event.param.ud;
  out.private_data = keep_private(e, r.conn);
  out.private_data_len = r.conn.private_data_len;
  if (r.event != RDMA_CM_EVENT_ESTABLISHED) return;
  out.qp_num = r.conn.qp_num;
  out.qkey = r.qkey;
  out.ah_attr = ud_address(p);
}

// A new ID for a connection request, on the listener's channel with its context.
IdPriv* passive_id(IdPriv& listener, const Event& r) {
  auto* p = new IdPriv;
  p->handle = r.id;
  p->has_conn = true;
  p->id.channel = listener.id.channel;
  p->id.context = listener.id.context;
  p->id.ps = listener.id.ps;
  p->id.qp_type = listener.id.qp_type;
  p->req_responder_resources = r.conn.responder_resources;
  p->req_initiator_depth = r.conn.initiator_depth;
  p->req_rtr = r.rtr;
  p->req_rts = r.rts;
  apply_route(*p, r.route);
  register_id(p);
  return p;
}

// The active side's REP: RTR and RTS on the QP, then the RTU. 0 or an errno.
int complete_connect(IdPriv& p, const Event& r) {
  p.responder_resources = std::min(p.responder_resources, r.conn.responder_resources);
  for (const ibcm::QpAttr& a : {r.rtr, r.rts})
    if (int e = move_qp(p, a); e != 0) return e;
  // The RTU: whether it went, the program learns from its events (a REJ or timeout would come
  // as one), so the library does not wait for the daemon's answer.
  Request q;
  q.op = Op::Establish;
  q.id = p.handle;
  return post(q);
}

// Gives the program event e, counted against owner until rdma_ack_cm_event (rdma_destroy_id
// waits for it).
int hand_out(EventPriv* e, IdPriv* owner, rdma_cm_event** event) {
  e->owner = owner;
  {
    std::lock_guard lock(owner->mu);
    ++owner->unacked;
  }
  *event = &e->event;
  return 0;
}

// The calling thread is in rdma_get_cm_event on a channel until it returns (enter_channel).
class InChannel {
 public:
  explicit InChannel(ChannelPriv& ch) : ch_(ch) { enter_channel(ch_); }
  ~InChannel() { leave_channel(ch_); }
  InChannel(const InChannel&) = delete;
  InChannel& operator=(const InChannel&) = delete;

 private:
  ChannelPriv& ch_;
};

}  // namespace

extern "C" {

int rdma_get_cm_event(rdma_event_channel* channel, rdma_cm_event** event) {
  if (!channel || !event) {
    errno = EINVAL;
    return -1;
  }
  InChannel reading(*priv(channel));
  for (;;) {
    Event r;
    ssize_t n;
    do {
      n = ::recv(channel->fd, &r, sizeof r, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;  // EAGAIN on a non-blocking channel, as librdmacm
    if (n != sizeof r) {
      // The daemon went away: each ID on the channel is told once, as the kernel's rdma_cm tells
      // its IDs when their device goes (their connections are gone: the daemon ended them), then
      // the channel fails.
      say_once("the CM daemon closed an event channel (it stopped?)");
      if (IdPriv* gone = next_untold_id(channel)) {
        auto* e = new EventPriv;
        e->event.id = &gone->id;
        e->event.event = RDMA_CM_EVENT_DEVICE_REMOVAL;
        (void)qp_to_error(*gone);
        return hand_out(e, gone, event);
      }
      errno = ENODEV;
      return -1;
    }
    IdPriv* p = nullptr;
    IdPriv* listener = nullptr;
    if (r.event == RDMA_CM_EVENT_CONNECT_REQUEST) {
      listener = find_id(r.listen_id);
      if (!listener) {
        // Destroyed since: the request, never delivered, ends with it (the kernel's ucma destroys
        // such a request's ID, and its CM sends the REJ), so the peer is not left waiting.
        Request end;
        end.op = Op::DestroyId;
        end.id = r.id;
        Reply ignored;
        (void)call(end, ignored);
        continue;
      }
      p = passive_id(*listener, r);
      // Read now: its listener's backlog has room for another (the kernel's ucma counts the
      // requests not yet read).
      Request read;
      read.op = Op::RequestRead;
      read.id = r.id;
      (void)post(read);
    } else {
      p = find_id(r.id);
      if (!p) continue;  // an ID the program destroyed: its late events go nowhere
    }
    auto* e = new EventPriv;
    e->event.id = &p->id;
    e->event.listen_id = listener ? &listener->id : nullptr;
    e->event.event = static_cast<rdma_cm_event_type>(r.event);
    e->event.status = r.status;
    if (p->id.qp_type == IBV_QPT_UD) {
      copy_ud(*e, *p, r);
      // An ID with a QP has the port space's Q_Key already: a peer that names another is
      // refused, as the kernel's cma_set_qkey refuses it.
      if (r.event == RDMA_CM_EVENT_ESTABLISHED && p->id.qp &&
          r.qkey != ibcm::wire::rdma_cm::kUdpQkey) {
        e->event.event = RDMA_CM_EVENT_ADDR_ERROR;
        e->event.status = -EINVAL;
      }
      return hand_out(e, listener ? listener : p, event);  // a UD QP stays as it is
    }
    copy_conn(*e, r.conn);
    switch (r.event) {
      case RDMA_CM_EVENT_ADDR_RESOLVED:
      case RDMA_CM_EVENT_ROUTE_RESOLVED:
        apply_route(*p, r.route);
        break;
      case RDMA_CM_EVENT_CONNECT_RESPONSE:
        if (p->id.qp) {
          if (int err = complete_connect(*p, r); err != 0) {
            abandon(*p);
            e->event.event = RDMA_CM_EVENT_CONNECT_ERROR;
            e->event.status = -err;
          } else {
            e->event.event = RDMA_CM_EVENT_ESTABLISHED;
          }
        }
        break;
      case RDMA_CM_EVENT_REJECTED:
      case RDMA_CM_EVENT_UNREACHABLE:
      case RDMA_CM_EVENT_CONNECT_ERROR:
        (void)qp_to_error(*p);
        break;
      default:
        break;
    }
    return hand_out(e, listener ? listener : p, event);
  }
}

int rdma_ack_cm_event(rdma_cm_event* event) {
  if (!event) {
    errno = EINVAL;
    return -1;
  }
  auto* e = reinterpret_cast<EventPriv*>(event);
  if (IdPriv* o = e->owner) {
    std::lock_guard lock(o->mu);
    if (--o->unacked == 0) o->acked.notify_all();
  }
  delete e;
  return 0;
}

const char* rdma_event_str(rdma_cm_event_type event) {
  switch (event) {
    case RDMA_CM_EVENT_ADDR_RESOLVED:
      return "RDMA_CM_EVENT_ADDR_RESOLVED";
    case RDMA_CM_EVENT_ADDR_ERROR:
      return "RDMA_CM_EVENT_ADDR_ERROR";
    case RDMA_CM_EVENT_ROUTE_RESOLVED:
      return "RDMA_CM_EVENT_ROUTE_RESOLVED";
    case RDMA_CM_EVENT_ROUTE_ERROR:
      return "RDMA_CM_EVENT_ROUTE_ERROR";
    case RDMA_CM_EVENT_CONNECT_REQUEST:
      return "RDMA_CM_EVENT_CONNECT_REQUEST";
    case RDMA_CM_EVENT_CONNECT_RESPONSE:
      return "RDMA_CM_EVENT_CONNECT_RESPONSE";
    case RDMA_CM_EVENT_CONNECT_ERROR:
      return "RDMA_CM_EVENT_CONNECT_ERROR";
    case RDMA_CM_EVENT_UNREACHABLE:
      return "RDMA_CM_EVENT_UNREACHABLE";
    case RDMA_CM_EVENT_REJECTED:
      return "RDMA_CM_EVENT_REJECTED";
    case RDMA_CM_EVENT_ESTABLISHED:
      return "RDMA_CM_EVENT_ESTABLISHED";
    case RDMA_CM_EVENT_DISCONNECTED:
      return "RDMA_CM_EVENT_DISCONNECTED";
    case RDMA_CM_EVENT_DEVICE_REMOVAL:
      return "RDMA_CM_EVENT_DEVICE_REMOVAL";
    case RDMA_CM_EVENT_MULTICAST_JOIN:
      return "RDMA_CM_EVENT_MULTICAST_JOIN";
    case RDMA_CM_EVENT_MULTICAST_ERROR:
      return "RDMA_CM_EVENT_MULTICAST_ERROR";
    case RDMA_CM_EVENT_ADDR_CHANGE:
      return "RDMA_CM_EVENT_ADDR_CHANGE";
    case RDMA_CM_EVENT_TIMEWAIT_EXIT:
      return "RDMA_CM_EVENT_TIMEWAIT_EXIT";
  }
  return "UNKNOWN EVENT";
}

}  // extern "C"
