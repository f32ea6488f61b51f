// Two engines back to back (tests/engine/pair.h), each host with its own fake device and QP
// binding; every event either engine emits is handed to its host's binding, as a CLI's event
// handler would, and what the binding reports is kept for the test to answer.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <vector>

#include "engine/pair.h"
#include "ibcm/verbs/qp_binding.h"
#include "verbs/fake_verbs.h"

namespace ibcm::verbs::test {

struct Host {
  FakeVerbs verbs;  // declared first: outlives the device and the binding
  std::optional<Device> device;
  std::unique_ptr<QpBinding> qps;
  std::vector<QpFailure> failures;
  size_t seen = 0;  // events of this side's log already handed to the binding

  explicit Host(uint32_t first_qpn, uint32_t psn) {
    verbs.first_qpn = first_qpn;
    auto d = Device::open(verbs, "rxe0", 1);
    EXPECT_TRUE(d.has_value());
    device.emplace(std::move(d).value());
    BindingOptions o;
    o.sgid_index = 1;
    o.random = [psn] { return psn; };
    auto b = QpBinding::open(*device, o);
    EXPECT_TRUE(b.has_value());
    qps = std::move(b).value();
  }
  // Everything this host made is gone: binding, device, and every verbs object.
  void close() {
    qps.reset();
    device.reset();
  }
};

inline QpOptions rc_options(uint32_t messages = 10) {
  QpOptions o;
  o.type = IBV_QPT_RC;
  o.max_send_wr = o.max_recv_wr = messages;
  o.responder_resources = 1;
  return o;
}

class Lab {
 public:
  ibcm::test::Pair p;
  Host a{0x11, 0xA0A0A0};
  Host b{0x11, 0xB0B0B0};

  // Hands each side's new events to its binding.
  void pump() {
    p.collect();
    feed(a, p.a, p.a_events);
    feed(b, p.b, p.b_events);
  }
  ibcm::test::Wire deliver() {
    auto w = p.deliver_one();
    pump();
    return w;
  }
  ibcm::test::Wire drop() { return p.drop_one(); }
  void run_timers_until(Time t) {
    p.run_timers_until(t);
    pump();
  }

  // A: a QP, then REQ naming it. Returns the connection and the QP.
  std::pair<ConnId, NewQp> connect(QpOptions o = rc_options()) {
    if (!listening_) {
      EXPECT_TRUE(p.b.listen(0x1234).has_value());
      listening_ = true;
    }
    auto q = a.qps->create(o);
    EXPECT_TRUE(q.has_value());
    ConnectParams cp = p.params(q->qpn);
    cp.psn = q->psn;
    cp.mtu = q->mtu;
    cp.responder_resources = o.responder_resources;
    cp.initiator_depth = 1;
    auto c = p.a.connect(p.now, cp);
    EXPECT_TRUE(c.has_value());
    EXPECT_TRUE(a.qps->attach(q->qpn, *c));
    pump();
    return {*c, *q};
  }

  // B, on the REQ just delivered: a QP, RTR, then REP. Returns the connection and the QP, or
  // the failure (already answered with the remedy it names).
  std::pair<ConnId, std::optional<NewQp>> accept(QpOptions o = rc_options()) {
    auto req = p.last<ev::ReqReceived>(p.b_events);
    EXPECT_TRUE(req.has_value());
    o.peer_mtu = req->req.path_mtu;
    auto q = b.qps->create(o);
    if (!q) {
      b.failures.push_back(q.error());
      answer_on_b(req->conn, q.error());
      return {req->conn, std::nullopt};
    }
    EXPECT_TRUE(b.qps->attach(q->qpn, req->conn));
    AcceptParams ap;
    ap.qpn = q->qpn;
    ap.psn = q->psn;
    ap.responder_resources = o.responder_resources;
    ap.initiator_depth = 1;
    if (auto r = b.qps->ready_to_receive(p.b, req->conn, ap); !r) {
      b.failures.push_back(r.error());
      answer_on_b(req->conn, r.error());
      return {req->conn, q.value()};
    }
    EXPECT_TRUE(p.b.accept(p.now, req->conn, ap).has_value());
    pump();
    return {req->conn, q.value()};
  }

  // REQ, REP, RTU: a connection both sides' QPs carry. Returns {A's, B's}.
  std::pair<ConnId, ConnId> handshake() {
    auto [ca, qa] = connect();
    deliver();  // REQ
    auto [cb, qb] = accept();
    deliver();  // REP: A's binding took its QP to RTS
    EXPECT_TRUE(a.failures.empty());
    EXPECT_TRUE(p.a.send_rtu(p.now, ca).has_value());
    deliver();  // RTU
    return {ca, cb};
  }

  void answer_on_b(ConnId conn, const QpFailure& f) {
    QpFailure g = f;
    g.conn = conn;
    EXPECT_TRUE(answer(p.b, p.now, g).has_value());
    b.qps->settle(p.b, conn);
    pump();
  }

 private:
  void feed(Host& h, Cm& cm, const std::vector<Event>& log) {
    for (; h.seen < log.size(); ++h.seen)
      if (auto r = h.qps->on_event(cm, log[h.seen]); !r) h.failures.push_back(r.error());
  }
  bool listening_ = false;
};

}  // namespace ibcm::verbs::test
