// The programs' rdma_cm calls, each on one of the program's own IDs, turned into engine calls.
// Errors are the errnos the kernel's rdma_cm (through librdmacm) gives for the same call.
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "daemon/daemon_state.h"
#include "daemon/ib_route.h"
#include "daemon/route.h"
#include "ibcm/transport/rdma_cm_params.h"
#include "ibcm/wire/rdma_cm.h"

namespace ibcm::daemon {

int errno_of(Error e) {
  switch (e) {
    case Error::QpnInUse:
    case Error::QpnInTimeWait:
      return EADDRINUSE;
    case Error::QueueFull:
    case Error::LimitReached:
      return ENOMEM;
    case Error::UnknownConnection:
      return ENOENT;
    default:
      return EINVAL;
  }
}

namespace {

bool valid_port_space(uint32_t ps) {
  return ps == RDMA_PS_TCP || ps == RDMA_PS_IB || ps == RDMA_PS_UDP;  // IPoIB: not served
}

// An ephemeral port for (ps), as the kernel's rdma_cm picks one: random in 32768-60999, free.
uint16_t take_port(CmDaemon::State& s, uint16_t ps, uint16_t want) {
  if (want != 0) return s.ports.insert({ps, want}).second ? want : 0;
  for (int tries = 0; tries < 28232; ++tries) {
    auto p = static_cast<uint16_t>(32768 + s.random() % 28232);
    if (s.ports.insert({ps, p}).second) return p;
  }
  return 0;
}

// rdma_listen's backlog as the kernel's rdma_ucm takes it: 0, negative or past its maximum is
// the maximum.
int listen_backlog(int32_t asked) {
  return asked > 0 && asked < kMaxBacklog ? asked : kMaxBacklog;
}

// Binds an ID to `src` (its port 0: an ephemeral one). 0 or the errno.
int bind(CmDaemon::State& s, Id& id, IpEndpoint src) {
  if (id.state != IdState::Idle) return EINVAL;
  if (src.addr.ss_family != AF_INET && src.addr.ss_family != AF_INET6) return EAFNOSUPPORT;
  proto::Route r;
  r.src = src.addr;
  if (!is_any(src)) {
    auto local = local_route(s.port, s.config.ipoib, src);
    if (!local) return EADDRNOTAVAIL;
    r = *local;
  }
  uint16_t port = take_port(s, id.port_space, src.port());
  if (port == 0) return EADDRINUSE;
  src.set_port(port);
  r.src = src.addr;
  id.src = src;
  id.bound_port = true;
  id.route = r;
  id.state = IdState::AddrBound;
  return 0;
}

}  // namespace

void CmDaemon::State::end_id(Cm& cm, Time now, Id& id) {
  cancel_route(id);
  leave_backlog(id);
  if (id.conn != 0) {
    cm.destroy(now, id.conn);
    by_conn.erase(id.conn);
  }
  if (id.listen != 0) {
    (void)cm.unlisten(id.listen);
    by_listen.erase(id.listen);
  }
  if (id.sidr != 0) sidr_end(cm, now, id);
  if (id.bound_port) ports.erase({id.port_space, id.src.port()});
  if (auto p = programs.find(id.program); p != programs.end()) p->second.ids.erase(id.handle);
  ids.erase(id.handle);
}

void CmDaemon::State::refused(int program, const proto::Request& r, int err) {
  Id* id = id_of(program, r.id);
  // A connect the library did not wait for: the REQ never left, which the program hears as the
  // kernel's rdma_cm reports a REQ that reached no one. Disconnect and Establish fail only when
  // the connection is over already, which the program hears about anyway.
  if (r.op != proto::Op::Connect || !id) return;
  ++counters.connects_refused;
  say("program " + std::to_string(programs[program].pid) + ": no REQ for ID " +
      std::to_string(r.id) + " (" + std::strerror(err) + ")");
  id->state = IdState::Failed;
  post(*id, proto::event_of(RDMA_CM_EVENT_UNREACHABLE, -err));
}

proto::Reply CmDaemon::State::handle(Cm& cm, Time now, int program, const proto::Request& r) {
  proto::Reply out;
  auto fail = [&](int err) {
    out.err = err;
    return out;
  };
  if (r.op == proto::Op::Hello)
    return fail(r.arg == static_cast<int32_t>(proto::kVersion) ? 0 : EPROTO);
  if (r.op == proto::Op::CreateId) {
    auto ch = channels.find(r.channel);
    if (ch == channels.end() || ch->second.program != program) return fail(EINVAL);
    if (!valid_port_space(r.port_space)) return fail(EPROTONOSUPPORT);
    Id id;
    id.handle = next_handle++;
    id.program = program;
    id.channel = r.channel;
    id.port_space = static_cast<uint16_t>(r.port_space);
    id.qp_type = r.qp_type;
    programs[program].ids.insert(id.handle);
    out.id = id.handle;
    ids.emplace(id.handle, id);
    return out;
  }
  Id* idp = id_of(program, r.id);
  if (!idp) {
    ++counters.bad_requests;
    say("program pid " + std::to_string(programs[program].pid) + " named ID " +
        std::to_string(r.id) + ", which is not its own");
    return fail(EINVAL);
  }
  Id& id = *idp;
  switch (r.op) {
    case proto::Op::DestroyId:
      end_id(cm, now, id);
      return out;
    case proto::Op::BindAddr:
      if (int e = bind(*this, id, endpoint(r.src)); e != 0) return fail(e);
      out.route = id.route;
      return out;
    case proto::Op::ResolveAddr: {
      IpEndpoint dst = endpoint(r.dst);
      if (dst.len == 0) return fail(EAFNOSUPPORT);
      if (id.state == IdState::Idle) {
        IpEndpoint src = endpoint(r.src);
        if (src.len == 0 || is_any(src)) {
          auto via = source_for(dst);
          if (!via) return fail(via.error());
          if (src.len != 0) via->set_port(src.port());
          src = *via;
        }
        if (int e = bind(*this, id, src); e != 0) return fail(e);
      } else if (id.state != IdState::AddrBound) {
        return fail(EINVAL);
      }
      if (is_any(id.src)) {  // bound to any address: the route picks it now
        auto via = source_for(dst);
        if (!via) return fail(via.error());
        via->set_port(id.src.port());
        id.src = *via;
      }
      id.dst = dst;
      auto local = local_route(port, config.ipoib, id.src);
      if (!local) {
        post(id, proto::event_of(RDMA_CM_EVENT_ADDR_ERROR, -ENODEV));
        return out;
      }
      auto dgid = peer_gid(port, config.ipoib, dst);
      if (!dgid) {
        post(id, proto::event_of(RDMA_CM_EVENT_ADDR_ERROR, -dgid.error()));
        return out;
      }
      id.route = *local;
      id.route.dst = dst.addr;
      std::copy(dgid->begin(), dgid->end(), id.route.dgid);
      resolved(id, IdState::AddrResolved, RDMA_CM_EVENT_ADDR_RESOLVED);
      out.route = id.route;
      return out;
    }
    case proto::Op::ResolveRoute: {
      if (id.state != IdState::AddrResolved) return fail(EINVAL);
      if (is_infiniband(port)) {  // the SA answers later: ROUTE_RESOLVED or ROUTE_ERROR
        if (int e = query_route(now, id); e != 0) return fail(e);
        out.route = id.route;  // the library applies it: the address part, unchanged
        return out;
      }
      complete_route(id.route, port, id.dst, id.tos);
      resolved(id, IdState::RouteResolved, RDMA_CM_EVENT_ROUTE_RESOLVED);
      out.route = id.route;
      return out;
    }
    case proto::Op::Listen: {
      if (id.state == IdState::Idle) {
        IpEndpoint any;
        any.addr.ss_family = AF_INET6;
        any.len = sizeof(sockaddr_in6);
        if (int e = bind(*this, id, any); e != 0) return fail(e);
      }
      if (id.state == IdState::Listening) {
        id.backlog = listen_backlog(r.arg);
        return out;
      }
      if (id.state != IdState::AddrBound) return fail(EINVAL);
      auto sid = wire::rdma_cm::service_id(static_cast<wire::rdma_cm::PortSpace>(id.port_space),
                                           id.src.port());
      auto l = cm.listen(sid);
      if (!l) return fail(EADDRINUSE);
      id.listen = *l;
      by_listen[*l] = id.handle;
      id.backlog = listen_backlog(r.arg);
      id.state = IdState::Listening;
      say("program " + std::to_string(programs[program].pid) + " listens on port " +
          std::to_string(id.src.port()));
      release_held(cm, now, *l, sid);
      return out;
    }
    case proto::Op::Connect: {
      if (id.ud()) return fail(sidr_connect(cm, now, id, r.conn));
      if (id.state != IdState::RouteResolved) return fail(EINVAL);
      std::array<uint8_t, 92> pd{};
      id.psn = random() & 0xFFFFFF;
      size_t user = std::min<size_t>(r.conn.private_data_len, wire::rdma_cm::kMaxReqUserData);
      ConnectParams p = rdma_cm_connect_params(
          id.src, id.dst, id.dst.port(), id.src.port(), r.conn.qp_num & 0xFFFFFF, id.psn,
          std::span<const uint8_t>(r.conn.private_data, user), pd);
      if (id.port_space == RDMA_PS_IB)
        p.service_id = wire::rdma_cm::service_id(wire::rdma_cm::PortSpace::IB, id.dst.port());
      p.dest.gid = gid_of(id.dst);
      p.dest.port = 0;
      p.mtu = static_cast<wire::Mtu>(id.route.mtu);
      p.primary.traffic_class = id.tos;
      p.primary.local_ack_timeout = 19;
      p.transport = id.qp_type == IBV_QPT_UC ? wire::TransportType::UC : wire::TransportType::RC;
      p.responder_resources = r.conn.responder_resources;
      p.initiator_depth = r.conn.initiator_depth;
      p.retry_count = std::min<uint8_t>(r.conn.retry_count, 7);
      p.rnr_retry_count = std::min<uint8_t>(r.conn.rnr_retry_count, 7);
      p.srq = r.conn.srq != 0;
      p.flow_control = r.conn.flow_control != 0;
      p.remote_cm_response_timeout = config.cm_response_timeout;
      p.max_cm_retries = config.max_cm_retries;
      if (id.path) {  // InfiniBand: the SA's path, LID-routed; the REQ goes to the peer's LID
        sa::apply(*id.path, p);
        p.dest.gid = id.path->path.remote_gid;
        p.dest.lid = id.path->path.remote_lid;
        p.dest.pkey = id.path->pkey;
      }
      auto c = cm.connect(now, p);
      if (!c) return fail(errno_of(c.error()));
      id.conn = *c;
      id.active = true;
      by_conn[*c] = id.handle;
      id.state = IdState::Connecting;
      return out;
    }
    case proto::Op::Accept: {
      leave_backlog(id);
      if (id.ud()) return fail(sidr_answer(cm, now, id, wire::SidrStatus::Success, r.conn));
      if (id.state != IdState::ConnectRequest) return fail(EINVAL);
      AcceptParams a;
      a.qpn = r.conn.qp_num & 0xFFFFFF;
      a.psn = id.psn;
      a.responder_resources = r.conn.responder_resources;
      a.initiator_depth = r.conn.initiator_depth;
      a.rnr_retry_count = std::min<uint8_t>(r.conn.rnr_retry_count, 7);
      a.srq = r.conn.srq != 0;
      a.flow_control = r.conn.flow_control != 0;
      a.private_data = std::span<const uint8_t>(r.conn.private_data,
                                                std::min<size_t>(r.conn.private_data_len, 196));
      if (auto s = cm.accept(now, id.conn, a); !s) return fail(errno_of(s.error()));
      id.state = IdState::Accepting;
      return out;
    }
    case proto::Op::Reject: {
      leave_backlog(id);
      if (id.ud()) return fail(sidr_answer(cm, now, id, wire::SidrStatus::Rejected, r.conn));
      if (id.state != IdState::ConnectRequest && id.state != IdState::ConnectResponse)
        return fail(EINVAL);
      auto reason =
          r.arg != 0 ? static_cast<wire::RejReason>(r.arg) : wire::RejReason::ConsumerDefined;
      auto pd = std::span<const uint8_t>(r.conn.private_data,
                                         std::min<size_t>(r.conn.private_data_len, 148));
      if (auto s = cm.reject(now, id.conn, reason, {}, pd); !s) return fail(errno_of(s.error()));
      id.state = IdState::Failed;
      return out;
    }
    case proto::Op::Disconnect: {
      // UD has no connection to end: the kernel's rdma_disconnect sends nothing and returns 0
      // once the ID has been through SIDR (its CM ID exists), EINVAL before.
      if (id.ud()) return fail(id.sidr != 0 ? 0 : EINVAL);
      auto st = cm.state(id.conn);
      if (!st) return fail(EINVAL);
      Status s = Ok{};
      if (*st == ibcm::State::Established) {
        s = cm.disconnect(now, id.conn);
      } else if (*st == ibcm::State::DreqRcvd) {
        s = cm.send_drep(now, id.conn);
      } else if (*st == ibcm::State::RepRcvd || *st == ibcm::State::MraRepSent ||
                 *st == ibcm::State::ReqRcvd || *st == ibcm::State::MraReqSent) {
        s = cm.reject(now, id.conn, wire::RejReason::ConsumerDefined);
      } else if (*st != ibcm::State::DreqSent && *st != ibcm::State::TimeWait) {
        return fail(EINVAL);
      }
      if (!s) return fail(errno_of(s.error()));
      if (id.state != IdState::Disconnected && id.state != IdState::Failed)
        id.state = IdState::Disconnecting;
      return out;
    }
    case proto::Op::InitQpAttr: {
      auto target = static_cast<QpState>(r.arg);
      out.responder_resources = 1;
      if (id.ud()) {  // any state: the port space's Q_Key (cma_ib_init_qp_attr)
        out.qp_attr.state = target;
        out.qp_attr.qkey = wire::rdma_cm::kUdpQkey;
        return out;
      }
      if (target == QpState::Init || target == QpState::Err) {
        out.qp_attr.state = target;
        return out;
      }
      if (id.conn == 0) return fail(EINVAL);
      auto a = cm.qp_attributes(id.conn, target);
      if (!a) return fail(errno_of(a.error()));
      a->rq_psn = id.psn;  // a passive ID's REP is not sent yet: the engine learns it in accept
      out.qp_attr = *a;
      return out;
    }
    case proto::Op::Establish: {
      if (id.state != IdState::ConnectResponse) return fail(EINVAL);
      if (auto s = cm.send_rtu(now, id.conn); !s) return fail(errno_of(s.error()));
      id.state = IdState::Connected;
      return out;
    }
    case proto::Op::Notify: {
      // The kernel's ib_cm_notify: COMM_EST establishes a passive connection whose RTU has not
      // come (EISCONN once established), PATH_MIG makes the alternate path the primary; any
      // other state or event is EINVAL.
      if (id.ud() || id.conn == 0) return fail(EINVAL);
      if (static_cast<proto::NotifyEvent>(r.arg) == proto::NotifyEvent::CommEst) {
        if (cm.state(id.conn) == ibcm::State::Established) return fail(EISCONN);
        if (auto s = cm.establish(now, id.conn); !s) return fail(errno_of(s.error()));
        return out;
      }
      if (static_cast<proto::NotifyEvent>(r.arg) == proto::NotifyEvent::PathMig) {
        if (auto s = cm.migrate(id.conn); !s) return fail(errno_of(s.error()));
        return out;
      }
      return fail(EINVAL);
    }
    case proto::Op::RequestRead:
      leave_backlog(id);
      return out;
    case proto::Op::MigrateId: {
      auto ch = channels.find(r.channel);
      if (ch == channels.end() || ch->second.program != program) return fail(EINVAL);
      id.channel = r.channel;
      return out;
    }
    case proto::Op::SetTos:
      id.tos = static_cast<uint8_t>(r.arg);
      return out;
    default:
      ++counters.bad_requests;
      say("unknown request " + std::to_string(static_cast<uint32_t>(r.op)));
      return fail(ENOSYS);
  }
}

}  // namespace ibcm::daemon
