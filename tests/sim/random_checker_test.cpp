// RandomChecker on forged reports: the checks that only fire when the engine misbehaves (a QPN
// bound twice, a connection freed without an outcome, a SIDR request never answered, a
// one-sided connection the peer told us about) are shown to fire, by telling the checker of
// calls the engine never saw. The random runs (random_run_test.cpp) show that they stay quiet
// with the real engine, and catch real mutations.
#include "sim/random_checker.h"

#include <gtest/gtest.h>

#include "ibcm/sim/consumer.h"
#include "workload.h"

namespace ibcm::sim::test {
namespace {

bool has(RandomChecker& c, std::string_view text) {
  for (const auto& v : c.violations())
    if (v.find(text) != std::string::npos) return true;
  return false;
}

struct Pair {
  Pair() {
    (void)f.cm(B).listen(kService);
    f.set_consumer(B, [this](Fabric& f, NodeId n, const Event& e) {
      if (auto* r = std::get_if<ev::ReqReceived>(&e)) {
        AcceptParams ap;
        ap.qpn = 0x200;
        if (f.cm(n).accept(f.now(), r->conn, ap)) checker.accepted(f, n, r->conn, ap.qpn);
      } else if (auto* d = std::get_if<ev::DreqReceived>(&e); d && answer_dreq) {
        if (f.cm(n).send_drep(f.now(), d->conn)) checker.called(f, n, d->conn, Call::SendDrep);
      }
    });
    f.set_consumer(A, [](Fabric& f, NodeId n, const Event& e) {
      if (auto* r = std::get_if<ev::RepReceived>(&e)) (void)f.cm(n).send_rtu(f.now(), r->conn);
    });
  }
  ConnId connect(uint32_t qpn) {
    auto c = f.cm(A).connect(f.now(), make_connect_params(f, A, B, kService, qpn, 1));
    EXPECT_TRUE(c.has_value());
    checker.connected(f, A, *c, qpn, B);
    return *c;
  }
  void run() {
    while (f.step()) checker.after_step(f);
  }
  bool answer_dreq = true;
  Fabric f;
  RandomChecker checker{2};
};

void handshake_and_teardown(Pair& p) {
  const ConnId c = p.connect(0x100);
  p.run();
  EXPECT_TRUE(p.checker.at_idle(p.f, "idle").empty());  // both ends agree
  ASSERT_TRUE(p.f.cm(A).disconnect(p.f.now(), c));
  p.checker.called(p.f, A, c, Call::Disconnect);
  p.run();
  p.checker.at_end(p.f);
}

TEST(RandomChecker, AHandshakeAndTeardownPass) {
  Pair p;
  handshake_and_teardown(p);
  EXPECT_TRUE(p.checker.violations().empty()) << p.checker.violations().front();
}

TEST(RandomChecker, ADrepNeverSentIsCaught) {
  Pair p;
  p.answer_dreq = false;
  handshake_and_teardown(p);
  // A's DREQ times out into TIMEWAIT, which drains; B's consumer still owes the DREP.
  EXPECT_TRUE(has(p.checker, "end: node 1 leaks: 1 connections"));
  EXPECT_EQ(p.checker.violations().size(), 1u);
}

TEST(RandomChecker, AQpnBoundTwiceIsCaughtAtTheCall) {
  Pair p;
  p.connect(0x100);
  p.run();
  EXPECT_TRUE(p.checker.violations().empty());
  // As if the engine had let a second connection take QPN 0x100.
  p.checker.connected(p.f, A, 0x1234, 0x100, B);
  EXPECT_TRUE(has(p.checker, "QPN 0x100 bound while connection"));
}

TEST(RandomChecker, AConnectionFreedWithoutAnOutcomeIsCaught) {
  Pair p;
  p.checker.connected(p.f, A, 0x1234, 0x300, B);  // a connect the engine does not hold
  p.run();
  p.checker.at_idle(p.f, "idle");
  EXPECT_TRUE(has(p.checker, "its consumer is still owed an event (connecting)"));
}

TEST(RandomChecker, ASidrRequestNeverAnsweredIsCaught) {
  Pair p;
  p.checker.sidr_requested(p.f, A, 0x77);
  p.run();
  p.checker.at_idle(p.f, "idle");
  EXPECT_TRUE(has(p.checker, "SIDR 0x77: neither sidr_rep_received nor sidr_timeout"));
}

TEST(RandomChecker, AnEventOutOfOrderIsCaught) {
  Pair p;
  const ConnId c = p.connect(0x100);
  p.run();
  p.checker.called(p.f, A, c, Call::SendDrep);  // no DREQ came
  EXPECT_TRUE(has(p.checker, "send_drep() succeeded while established"));
}

}  // namespace
}  // namespace ibcm::sim::test
