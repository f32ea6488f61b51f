// A QP that cannot be made or moved: the failure is reported with what the CM must send (REJ
// before the connection is established, DREQ after), the QP goes to ERR, never half-open, and
// nothing is left behind.
#include <gtest/gtest.h>

#include "verbs/lab.h"

using namespace ibcm;
using namespace ibcm::verbs;
using namespace ibcm::verbs::test;
using namespace std::chrono_literals;

namespace {

wire::Rej rej_of(const ibcm::test::Wire& w) {
  return std::get<wire::Rej>(w.mad().message);
}

void finish(Lab& lab) {
  lab.run_timers_until(lab.p.now + 600s);
  EXPECT_EQ(lab.a.qps->live(), 0u);
  EXPECT_EQ(lab.b.qps->live(), 0u);
  lab.a.close();
  lab.b.close();
  EXPECT_EQ(lab.a.verbs.live.total(), 0);
  EXPECT_EQ(lab.b.verbs.live.total(), 0);
}

}  // namespace

TEST(QpFailure, ActiveRtsFailureRejectsTheRepAndErrsTheQp) {
  Lab lab;
  lab.a.verbs.fail_transition_to = IBV_QPS_RTS;
  lab.a.verbs.fail_errno = ENOMEM;
  auto [ca, qa] = lab.connect();
  lab.deliver();  // REQ
  auto [cb, qb] = lab.accept();
  lab.deliver();  // REP
  ASSERT_EQ(lab.a.failures.size(), 1u);
  const QpFailure f = lab.a.failures[0];
  EXPECT_EQ(f.conn, ca);
  EXPECT_EQ(f.remedy, Remedy::Reject);
  EXPECT_EQ(f.reason, wire::RejReason::ConsumerDefined);
  EXPECT_EQ(f.error.call, Call::ModifyQp);
  EXPECT_EQ(f.error.code, ENOMEM);
  EXPECT_NE(f.error.message.find("to RTS"), std::string::npos) << f.error.message;
  EXPECT_EQ(lab.a.verbs.states_of(qa.qpn),
            (std::vector<ibv_qp_state>{IBV_QPS_INIT, IBV_QPS_RTR, IBV_QPS_RTS, IBV_QPS_ERR}));
  EXPECT_EQ(lab.a.verbs.state(qa.qpn), IBV_QPS_ERR);
  EXPECT_EQ(lab.a.qps->counters().transition_failures, 1u);

  ASSERT_TRUE(answer(lab.p.a, lab.p.now, f).has_value());
  lab.a.qps->settle(lab.p.a, ca);
  lab.pump();
  EXPECT_EQ(rej_of(lab.deliver()).reason, wire::RejReason::ConsumerDefined);
  EXPECT_EQ(lab.b.verbs.states_of(qb->qpn).back(), IBV_QPS_ERR);
  EXPECT_EQ(lab.b.verbs.qp_exists(qb->qpn), lab.p.b.state(cb).has_value());  // kept for TIMEWAIT
  finish(lab);
}

TEST(QpFailure, PassiveRtrFailureRejectsTheReq) {
  Lab lab;
  lab.b.verbs.fail_transition_to = IBV_QPS_RTR;
  auto [ca, qa] = lab.connect();
  lab.deliver();                 // REQ
  auto [cb, qb] = lab.accept();  // fails, answered with REJ, settled
  ASSERT_EQ(lab.b.failures.size(), 1u);
  EXPECT_EQ(lab.b.failures[0].remedy, Remedy::Reject);
  ASSERT_TRUE(qb.has_value());
  EXPECT_EQ(lab.b.verbs.states_of(qb->qpn),
            (std::vector<ibv_qp_state>{IBV_QPS_INIT, IBV_QPS_RTR, IBV_QPS_ERR}));
  EXPECT_FALSE(lab.b.verbs.qp_exists(qb->qpn));  // the connection ended without TIMEWAIT
  EXPECT_FALSE(lab.p.b.state(cb).has_value());
  EXPECT_EQ(rej_of(lab.deliver()).reason, wire::RejReason::ConsumerDefined);
  EXPECT_FALSE(lab.a.verbs.qp_exists(qa.qpn));
  finish(lab);
}

TEST(QpFailure, PassiveRtsFailureDisconnects) {
  Lab lab;
  lab.b.verbs.fail_transition_to = IBV_QPS_RTS;
  auto [ca, cb] = lab.handshake();
  ASSERT_EQ(lab.b.failures.size(), 1u);
  const QpFailure f = lab.b.failures[0];
  EXPECT_EQ(f.remedy, Remedy::Disconnect);
  EXPECT_EQ(lab.b.qps->find(cb)->state, IBV_QPS_ERR);
  ASSERT_TRUE(answer(lab.p.b, lab.p.now, f).has_value());
  lab.pump();
  EXPECT_TRUE(std::holds_alternative<wire::Dreq>(lab.deliver().mad().message));
  EXPECT_EQ(lab.a.qps->find(ca)->state, IBV_QPS_ERR);  // dreq_received flushed A's QP
  ASSERT_TRUE(lab.p.a.send_drep(lab.p.now, ca).has_value());
  lab.deliver();  // DREP
  finish(lab);
}

TEST(QpFailure, NoQpForAReqRejectsWithNoQpAndLeavesNoCq) {
  Lab lab;
  lab.b.verbs.fail_create_qp = ENOMEM;
  auto [ca, qa] = lab.connect();
  lab.deliver();  // REQ
  auto [cb, qb] = lab.accept();
  EXPECT_FALSE(qb.has_value());
  ASSERT_EQ(lab.b.failures.size(), 1u);
  EXPECT_EQ(lab.b.failures[0].error.call, Call::CreateQp);
  EXPECT_EQ(lab.b.failures[0].reason, wire::RejReason::NoQp);
  EXPECT_EQ(lab.b.verbs.live.cqs, 0);  // the CQ made for it went too
  EXPECT_EQ(lab.b.qps->counters().create_failures, 1u);
  EXPECT_EQ(rej_of(lab.deliver()).reason, wire::RejReason::NoQp);
  EXPECT_FALSE(lab.a.verbs.qp_exists(qa.qpn));
  (void)cb;
  finish(lab);
}

// No CQ, or a new QP that refuses INIT: create() fails naming the call, and nothing is left.
TEST(QpFailure, CreateFailuresLeaveNothing) {
  for (Call failing : {Call::CreateCq, Call::ModifyQp}) {
    SCOPED_TRACE(std::string(to_string(failing)));
    Lab lab;
    if (failing == Call::CreateCq) lab.a.verbs.fail_create_cq = ENOMEM;
    if (failing == Call::ModifyQp) lab.a.verbs.fail_transition_to = IBV_QPS_INIT;
    auto q = lab.a.qps->create(rc_options());
    ASSERT_FALSE(q.has_value());
    EXPECT_EQ(q.error().error.call, failing);
    EXPECT_EQ(lab.a.verbs.live.cqs + lab.a.verbs.live.qps, 0);
    EXPECT_EQ(lab.a.qps->live(), 0u);
    finish(lab);
  }
}
