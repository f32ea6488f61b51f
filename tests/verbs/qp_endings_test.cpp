// How connections end, for their QPs: every ending event moves the QP to ERR (its work requests
// flush); the QP object is kept while the engine protects its QPN (TIMEWAIT), so the device
// cannot hand the number out again, and destroyed at timewait_exit or at once when the
// connection ends without TIMEWAIT. Nothing leaks.
#include <gtest/gtest.h>

#include "verbs/lab.h"

using namespace ibcm;
using namespace ibcm::verbs;
using namespace ibcm::verbs::test;
using namespace std::chrono_literals;

namespace {

bool destroyed(const Host& h, uint32_t qpn) {
  return !h.verbs.qp_exists(qpn);
}

// Both hosts close; every PD, CQ, QP, MR, channel and context they made is gone.
void expect_no_leaks(Lab& lab) {
  lab.a.close();
  lab.b.close();
  EXPECT_EQ(lab.a.verbs.live.total(), 0);
  EXPECT_EQ(lab.b.verbs.live.total(), 0);
}

// Runs both sides' timers, one at a time, until `side` has had an event E (at most 10 minutes).
template <class E>
bool run_until(Lab& lab, const std::vector<Event>& side) {
  const Time end = lab.p.now + 600s;
  while (!lab.p.last<E>(side)) {
    auto next = lab.p.next_timeout();
    if (!next || *next > end) return false;
    lab.run_timers_until(*next);
  }
  return true;
}

}  // namespace

TEST(QpEndings, DisconnectFlushesBothAndQpnsComeBackOnlyAfterTimewait) {
  Lab lab;
  auto [ca, cb] = lab.handshake();
  const uint32_t qa = lab.a.qps->find(ca)->qpn, qb = lab.b.qps->find(cb)->qpn;
  // A posted receives that will never be matched: the flush must complete them.
  ibv_recv_wr wr{};
  ibv_recv_wr* bad = nullptr;
  ASSERT_EQ(lab.a.verbs.post_recv(lab.a.qps->find(ca)->qp, wr, bad), 0);

  ASSERT_TRUE(lab.p.a.disconnect(lab.p.now, ca).has_value());
  lab.a.qps->flush(ca);  // DREQ sent
  EXPECT_EQ(lab.a.verbs.state(qa), IBV_QPS_ERR);
  EXPECT_TRUE(lab.a.verbs.receives(qa).empty());  // flushed
  lab.deliver();                                  // DREQ
  EXPECT_EQ(lab.b.verbs.state(qb), IBV_QPS_ERR);
  ASSERT_TRUE(lab.p.b.send_drep(lab.p.now, cb).has_value());
  lab.deliver();  // DREP
  ASSERT_EQ(lab.p.a.state(ca), State::TimeWait);
  ASSERT_EQ(lab.p.b.state(cb), State::TimeWait);

  // In TIMEWAIT: the QPs are kept, so a new QP gets another number.
  EXPECT_FALSE(destroyed(lab.a, qa));
  EXPECT_FALSE(destroyed(lab.b, qb));
  auto other = lab.a.qps->create(rc_options());
  ASSERT_TRUE(other.has_value());
  EXPECT_NE(other->qpn, qa);
  lab.a.qps->discard(other->qpn);

  lab.run_timers_until(lab.p.now + 10s);
  ASSERT_TRUE(lab.p.last<ev::TimeWaitExit>(lab.p.a_events).has_value());
  EXPECT_TRUE(destroyed(lab.a, qa));
  EXPECT_TRUE(destroyed(lab.b, qb));
  EXPECT_EQ(lab.a.qps->live(), 0u);
  auto again = lab.a.qps->create(rc_options());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->qpn, qa);  // free again once TIMEWAIT is over
  // Each QP went INIT, RTR, RTS, ERR and nothing more.
  EXPECT_EQ(lab.b.verbs.states_of(qb),
            (std::vector<ibv_qp_state>{IBV_QPS_INIT, IBV_QPS_RTR, IBV_QPS_RTS, IBV_QPS_ERR}));
  EXPECT_TRUE(lab.a.failures.empty());
  EXPECT_TRUE(lab.b.failures.empty());
  expect_no_leaks(lab);
}

TEST(QpEndings, RejectedReqEndsWithoutTimewaitSoTheQpGoesAtOnce) {
  Lab lab;
  auto [ca, qa] = lab.connect();
  lab.deliver();  // REQ
  auto req = lab.p.last<ev::ReqReceived>(lab.p.b_events);
  ASSERT_TRUE(lab.p.b.reject(lab.p.now, req->conn, wire::RejReason::ConsumerDefined).has_value());
  lab.deliver();  // REJ
  ASSERT_FALSE(lab.p.a.state(ca).has_value());
  EXPECT_EQ(lab.a.verbs.states_of(qa.qpn), (std::vector<ibv_qp_state>{IBV_QPS_INIT, IBV_QPS_ERR}));
  EXPECT_TRUE(destroyed(lab.a, qa.qpn));
  expect_no_leaks(lab);
}

TEST(QpEndings, ReqTimeoutDestroysTheQp) {
  Lab lab;
  auto [ca, qa] = lab.connect();
  lab.drop();  // REQ, and every retry stays undelivered
  ASSERT_TRUE(run_until<ev::ReqTimeout>(lab, lab.p.a_events));
  EXPECT_EQ(lab.a.verbs.states_of(qa.qpn).back(), IBV_QPS_ERR);
  EXPECT_TRUE(destroyed(lab.a, qa.qpn));
  expect_no_leaks(lab);
}

TEST(QpEndings, RepTimeoutFlushesThenTimewaitExitDestroys) {
  Lab lab;
  auto [ca, qa] = lab.connect();
  lab.deliver();  // REQ
  auto [cb, qb] = lab.accept();
  lab.deliver();  // REP
  // A never sends the RTU (it went away): B retries its REP, then gives up.
  ASSERT_TRUE(run_until<ev::RepTimeout>(lab, lab.p.b_events));
  EXPECT_EQ(lab.b.verbs.states_of(qb->qpn),
            (std::vector<ibv_qp_state>{IBV_QPS_INIT, IBV_QPS_RTR, IBV_QPS_ERR}));
  EXPECT_FALSE(destroyed(lab.b, qb->qpn));  // TIMEWAIT
  ASSERT_TRUE(run_until<ev::TimeWaitExit>(lab, lab.p.b_events));
  EXPECT_TRUE(destroyed(lab.b, qb->qpn));
  (void)ca;
  expect_no_leaks(lab);
}

TEST(QpEndings, DreqTimeoutKeepsTheQpInErrUntilTimewaitEnds) {
  Lab lab;
  auto [ca, cb] = lab.handshake();
  const uint32_t qa = lab.a.qps->find(ca)->qpn;
  ASSERT_TRUE(lab.p.a.disconnect(lab.p.now, ca).has_value());
  lab.a.qps->flush(ca);
  lab.drop();  // DREQ; its retries are never delivered either
  ASSERT_TRUE(run_until<ev::DreqTimeout>(lab, lab.p.a_events));
  EXPECT_EQ(lab.a.verbs.state(qa), IBV_QPS_ERR);
  EXPECT_FALSE(destroyed(lab.a, qa));  // TIMEWAIT after the timeout
  lab.run_timers_until(lab.p.now + 10s);
  EXPECT_TRUE(destroyed(lab.a, qa));
  (void)cb;
  expect_no_leaks(lab);
}

// B's peer rebooted and connects again from the same QPN: B's engine reports the old connection
// stale and sends DREQ for it; its QP flushes and waits out TIMEWAIT.
TEST(QpEndings, StaleConnectionFlushesTheOldQp) {
  Lab lab;
  auto [ca, cb] = lab.handshake();
  const uint32_t qa = lab.a.qps->find(ca)->qpn, qb = lab.b.qps->find(cb)->qpn;
  lab.p.a = Cm(ibcm::test::config_of(1, 99));  // A reboots; its QP number is the same
  lab.p.in_flight.clear();
  auto again = lab.p.a.connect(lab.p.now, lab.p.params(qa));
  ASSERT_TRUE(again.has_value());
  lab.deliver();  // REQ: B answers REJ 10 and sends DREQ for the old connection
  ASSERT_TRUE(lab.p.last<ev::StaleConnection>(lab.p.b_events).has_value());
  EXPECT_EQ(lab.b.verbs.state(qb), IBV_QPS_ERR);
  EXPECT_FALSE(destroyed(lab.b, qb));
  lab.deliver();  // REJ 10
  lab.deliver();  // DREQ: the rebooted A knows nothing of it and answers DREP
  lab.deliver();  // DREP
  ASSERT_EQ(lab.p.b.state(cb), State::TimeWait);
  EXPECT_FALSE(destroyed(lab.b, qb));
  lab.run_timers_until(lab.p.now + 10s);
  EXPECT_TRUE(destroyed(lab.b, qb));
  lab.a.qps->reap(lab.p.a);  // A's old engine is gone with its connection
  EXPECT_TRUE(destroyed(lab.a, qa));
  expect_no_leaks(lab);
}

// `aborted` ends an attempt the engine gave up itself: the QP must not stay usable.
TEST(QpEndings, AbortedFlushesAndSettlesByTheEnginesState) {
  Lab lab;
  auto [ca, qa] = lab.connect();
  ASSERT_TRUE(lab.a.qps->on_event(lab.p.a, Event{ev::Aborted{ca, wire::RejReason::NoResources}}));
  EXPECT_EQ(lab.a.verbs.state(qa.qpn), IBV_QPS_ERR);
  EXPECT_FALSE(destroyed(lab.a, qa.qpn));  // the engine still has the connection
  lab.p.a.destroy(lab.p.now, ca);
  lab.pump();
  EXPECT_EQ(lab.a.qps->reap(lab.p.a), 1u);
  EXPECT_TRUE(destroyed(lab.a, qa.qpn));
  expect_no_leaks(lab);
}
