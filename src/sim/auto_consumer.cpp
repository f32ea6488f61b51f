// AutoConsumer: the default behaviour of a simulated application.
#include <map>
#include <utility>

#include "ibcm/sim/consumer.h"

namespace ibcm::sim {

ConnectParams make_connect_params(const Fabric& f, NodeId from, NodeId to, uint64_t service_id,
                                  uint32_t qpn, uint32_t psn) {
  ConnectParams p;
  p.service_id = service_id;
  p.dest = f.address(to);
  p.qpn = qpn;
  p.psn = psn;
  p.primary.local_gid = f.address(from).gid;
  p.primary.remote_gid = f.address(to).gid;
  p.primary.local_lid = p.primary.remote_lid = 0xFFFF;
  p.primary.hop_limit = 64;
  p.packet_life_time = 16;
  // Linux derives the QP's ACK timeout from the packet lifetime the same way.
  p.primary.local_ack_timeout = 17;
  p.remote_cm_response_timeout = 20;
  p.max_cm_retries = 15;
  return p;
}

struct AutoConsumer::State {
  AutoPolicy policy;
  AutoTally tally;
  std::map<NodeId, std::pair<uint32_t, uint32_t>> qpn;  // node -> (boots, next QPN)
};

AutoConsumer::AutoConsumer(AutoPolicy policy) : s_(std::make_shared<State>()) {
  s_->policy = std::move(policy);
}

AutoPolicy& AutoConsumer::policy() {
  return s_->policy;
}
const AutoTally& AutoConsumer::tally() const {
  return s_->tally;
}

void AutoConsumer::attach(Fabric& f, NodeId n) {
  AutoConsumer self = *this;
  f.set_consumer(n, [self](Fabric& f, NodeId n, const Event& e) mutable { self.handle(f, n, e); });
  f.set_boot_handler(n, [self](Fabric& f, NodeId n) mutable { self.listen_all(f, n); });
  if (f.is_up(n)) listen_all(f, n);
}

void AutoConsumer::listen_all(Fabric& f, NodeId n) {
  for (uint64_t sid : s_->policy.listen) {
    auto l = f.cm(n).listen(sid);
    if (!l) check(f, n, Unexpected{l.error()}, "listen");
  }
}

uint32_t AutoConsumer::allocate_qpn(Fabric& f, NodeId n) {
  auto& [boots, next] = s_->qpn[n];
  if (boots != f.boots(n)) {
    boots = f.boots(n);
    next = s_->policy.first_qpn;
  }
  return next++ & 0xFFFFFF;
}

Expected<ConnId, Error> AutoConsumer::connect(Fabric& f, NodeId from, NodeId to,
                                              uint64_t service_id) {
  const uint32_t psn = static_cast<uint32_t>(f.random()) & 0xFFFFFF;
  auto r = f.cm(from).connect(
      f.now(), make_connect_params(f, from, to, service_id, allocate_qpn(f, from), psn));
  if (!r) check(f, from, Unexpected{r.error()}, "connect");
  return r;
}

void AutoConsumer::check(Fabric& f, NodeId n, const Status& s, const char* what) {
  if (s) return;
  ++s_->tally.failed;
  f.annotate(n, std::string(what) + " failed: " + std::string(to_string(s.error())));
}

void AutoConsumer::handle(Fabric& f, NodeId n, const Event& e) {
  const AutoPolicy& p = s_->policy;
  AutoTally& t = s_->tally;
  Cm& cm = f.cm(n);
  const Time now = f.now();

  // Captures a copy, not `this`: the fabric copies its handler before calling it, and a delayed
  // accept outlives that call.
  auto accept = [self = *this](Fabric& f, NodeId n, ConnId c) mutable {
    AcceptParams ap;
    ap.qpn = self.allocate_qpn(f, n);
    ap.psn = static_cast<uint32_t>(f.random()) & 0xFFFFFF;
    Status s = f.cm(n).accept(f.now(), c, ap);
    if (s) ++self.s_->tally.accepted;
    self.check(f, n, s, "accept");
  };

  if (auto* x = std::get_if<ev::ReqReceived>(&e)) {
    switch (p.on_req) {
      case AutoPolicy::OnReq::Accept:
        accept(f, n, x->conn);
        break;
      case AutoPolicy::OnReq::Reject: {
        Status s = cm.reject(now, x->conn, p.reject_reason);
        if (s) ++t.rejected;
        check(f, n, s, "reject");
        break;
      }
      case AutoPolicy::OnReq::MraThenAccept: {
        Status s = cm.send_mra(now, x->conn, p.mra_service_timeout);
        if (s) ++t.mra_sent;
        check(f, n, s, "send_mra");
        const ConnId c = x->conn;
        f.schedule(now + p.accept_delay, n,
                   [accept, c](Fabric& f, NodeId n) mutable { accept(f, n, c); });
        break;
      }
      case AutoPolicy::OnReq::Ignore:
        break;
    }
  } else if (auto* x = std::get_if<ev::RepReceived>(&e)) {
    if (!p.send_rtu) return;
    Status s = cm.send_rtu(now, x->conn);
    if (s) ++t.rtu_sent;
    check(f, n, s, "send_rtu");
  } else if (auto* x = std::get_if<ev::Established>(&e)) {
    if (!p.disconnect_after) return;
    const ConnId c = x->conn;
    auto self = *this;
    f.schedule(now + *p.disconnect_after, n, [self, c](Fabric& f, NodeId n) mutable {
      Status s = f.cm(n).disconnect(f.now(), c);
      if (s) ++self.s_->tally.disconnected;
      self.check(f, n, s, "disconnect");
    });
  } else if (auto* x = std::get_if<ev::DreqReceived>(&e)) {
    if (!p.answer_dreq) return;
    Status s = cm.send_drep(now, x->conn);
    if (s) ++t.drep_sent;
    check(f, n, s, "send_drep");
  } else if (auto* x = std::get_if<ev::LapReceived>(&e)) {
    if (!p.answer_lap) return;
    Status s = cm.send_apr(now, x->conn, p.apr_status);
    if (s) ++t.apr_sent;
    check(f, n, s, "send_apr");
  } else if (auto* x = std::get_if<ev::SidrReqReceived>(&e)) {
    if (!p.answer_sidr) return;
    SidrReplyParams rp;
    rp.status = p.sidr_status;
    rp.qpn = allocate_qpn(f, n);
    rp.qkey = p.sidr_qkey;
    Status s = cm.sidr_reply(now, x->id, rp);
    if (s) ++t.sidr_replied;
    check(f, n, s, "sidr_reply");
  }
}

}  // namespace ibcm::sim
