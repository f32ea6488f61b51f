#include <gtest/gtest.h>

#include "engine/pair.h"
#include "engine/reach.h"
#include "ibcm/wire/time.h"

using namespace ibcm;
using namespace ibcm::test;
using wire::cm_time;

namespace {
const Time kInterval = 2 * cm_time(18) + cm_time(20);
}

TEST(Disconnect, DreqDrepTimewaitThenExitAtTheComputedTime) {
  Pair p;
  auto [ca, cb] = p.connect();
  ASSERT_TRUE(p.a.disconnect(p.now, ca).has_value());
  EXPECT_EQ(p.a.state(ca), State::DreqSent);
  Wire dreq = p.deliver_one();
  EXPECT_EQ(std::get<wire::Dreq>(dreq.mad().message).remote_qpn, 0x200u);
  EXPECT_EQ(p.b.state(cb), State::DreqRcvd);
  ASSERT_TRUE(p.last<ev::DreqReceived>(p.b_events).has_value());
  ASSERT_TRUE(p.b.send_drep(p.now, cb).has_value());
  EXPECT_EQ(p.b.state(cb), State::TimeWait);
  Wire drep = p.deliver_one();
  EXPECT_EQ(drep.mad().header.transaction_id, dreq.mad().header.transaction_id);
  EXPECT_EQ(p.a.state(ca), State::TimeWait);
  EXPECT_TRUE(p.last<ev::DrepReceived>(p.a_events).has_value());
  // TIMEWAIT = the path's local ACK timeout (19 here).
  EXPECT_EQ(p.a.next_timeout().value(), p.now + cm_time(19));
  p.advance_to(p.now + cm_time(19) - Time(1));
  EXPECT_FALSE(p.last<ev::TimeWaitExit>(p.a_events).has_value());
  p.advance_to(cm_time(19));
  EXPECT_TRUE(p.last<ev::TimeWaitExit>(p.a_events).has_value());
  EXPECT_TRUE(p.last<ev::TimeWaitExit>(p.b_events).has_value());
  EXPECT_EQ(p.a.connection_count(), 0u);
  EXPECT_EQ(p.b.connection_count(), 0u);
  EXPECT_EQ(p.a.timer_count(), 0u);
}

TEST(Disconnect, DreqWithoutDrepRetriesThenTimesOutIntoTimewait) {
  Pair p;
  auto [ca, cb] = p.connect();
  (void)cb;
  ASSERT_TRUE(p.a.disconnect(p.now, ca).has_value());
  p.drop_one();
  for (int i = 1; i <= 15; ++i) {
    p.advance_to(kInterval * i);
    ASSERT_EQ(p.in_flight.size(), 1u) << i;
    EXPECT_TRUE(std::holds_alternative<wire::Dreq>(p.drop_one().mad().message));
    EXPECT_EQ(p.a.state(ca), State::DreqSent);
  }
  p.advance_to(kInterval * 16);
  EXPECT_EQ(p.a.state(ca), State::TimeWait);
  EXPECT_TRUE(p.last<ev::DreqTimeout>(p.a_events).has_value());
  EXPECT_EQ(p.a.counters().of(CountedMsg::Dreq).tx, 16u);
  EXPECT_EQ(p.a.counters().of(CountedMsg::Dreq).tx_retries, 15u);
  p.advance_to(kInterval * 16 + cm_time(19));
  EXPECT_TRUE(p.last<ev::TimeWaitExit>(p.a_events).has_value());
  EXPECT_FALSE(p.a.state(ca).has_value());
}

TEST(Disconnect, DreqForUnknownConnectionIsAnsweredWithDrep) {
  Pair p;
  auto [ca, cb] = p.connect();
  // B forgets everything (as after a reboot); A's DREQ still gets a DREP at once.
  p.b = Cm(config_of(2, 7));
  ASSERT_TRUE(p.a.disconnect(p.now, ca).has_value());
  p.deliver_one();
  Wire drep = p.deliver_one();
  const auto d = std::get<wire::Drep>(drep.mad().message);
  EXPECT_EQ(d.remote_comm_id, ca);
  EXPECT_EQ(d.local_comm_id, cb);
  EXPECT_EQ(p.a.state(ca), State::TimeWait);
}

TEST(Disconnect, DreqWithWrongRemoteQpnIsDropped) {
  Pair p;
  auto [ca, cb] = p.connect();
  wire::Dreq d;
  d.local_comm_id = ca;
  d.remote_comm_id = cb;
  d.remote_qpn = 0x999;
  p.b.handle_mad(p.now, p.a.config().local, wire::encode(wire::make_mad(d, 1)));
  EXPECT_EQ(p.b.state(cb), State::Established);
  EXPECT_EQ(p.b.counters().drop(Drop::WrongRemoteQpn), 1u);
  p.collect();
  EXPECT_TRUE(p.in_flight.empty());
}

TEST(Disconnect, BothSidesAtOnceResolveThroughDreqRcvd) {
  Pair p;
  auto [ca, cb] = p.connect();
  ASSERT_TRUE(p.a.disconnect(p.now, ca).has_value());
  ASSERT_TRUE(p.b.disconnect(p.now, cb).has_value());
  p.deliver_all();  // the two DREQs cross
  EXPECT_EQ(p.a.state(ca), State::DreqRcvd);
  EXPECT_EQ(p.b.state(cb), State::DreqRcvd);
  ASSERT_TRUE(p.a.send_drep(p.now, ca).has_value());
  ASSERT_TRUE(p.b.send_drep(p.now, cb).has_value());
  p.deliver_all();  // each DREP finds the other in TIMEWAIT already: a duplicate
  EXPECT_EQ(p.a.state(ca), State::TimeWait);
  EXPECT_EQ(p.b.state(cb), State::TimeWait);
  p.run_timers_until(p.now + cm_time(19));
  EXPECT_EQ(p.a.connection_count() + p.b.connection_count(), 0u);
}

TEST(Disconnect, DuplicateDreqInTimewaitGetsDrepAgain) {
  Pair p;
  auto [ca, cb] = p.connect();
  ASSERT_TRUE(p.a.disconnect(p.now, ca).has_value());
  Wire dreq = p.deliver_one();
  ASSERT_TRUE(p.b.send_drep(p.now, cb).has_value());
  p.drop_one();  // DREP lost
  // A's retry comes after kInterval, which is longer than B's TIMEWAIT here; a duplicate that
  // arrives while B is still in TIMEWAIT is answered from the connection.
  p.b.handle_mad(p.now, p.a.config().local, dreq.bytes);
  p.collect();
  Wire drep = p.deliver_one();
  EXPECT_TRUE(std::holds_alternative<wire::Drep>(drep.mad().message));
  EXPECT_EQ(p.a.state(ca), State::TimeWait);
  EXPECT_EQ(p.b.counters().of(CountedMsg::Dreq).rx_duplicates, 1u);
}

TEST(Disconnect, TimewaitProtectsTheLocalQpn) {
  Pair p;
  auto [ca, cb] = p.connect(0x100, 0x200);
  (void)cb;
  ASSERT_TRUE(p.a.disconnect(p.now, ca).has_value());
  p.deliver_one();
  ASSERT_TRUE(p.b.send_drep(p.now, cb).has_value());
  p.deliver_one();
  auto again = p.a.connect(p.now, p.params(0x100));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error(), Error::QpnInTimeWait);
  p.advance_to(p.now + cm_time(19));
  EXPECT_TRUE(p.a.connect(p.now, p.params(0x100)).has_value());
}

TEST(Disconnect, TimewaitLengthIsConfigurable) {
  Config ca = config_of(1);
  ca.timewait = std::chrono::milliseconds(5);
  Pair p;
  p.a = Cm(ca);
  auto [a, b] = p.connect();
  (void)b;
  ASSERT_TRUE(p.a.disconnect(p.now, a).has_value());
  p.deliver_one();
  ASSERT_TRUE(p.b.send_drep(p.now, b).has_value());
  p.deliver_one();
  EXPECT_EQ(p.a.next_timeout().value(), p.now + std::chrono::milliseconds(5));
}

TEST(Disconnect, DestroyEstablishedSendsDreqAndHoldsTimewaitSilently) {
  Pair p;
  auto [ca, cb] = p.connect();
  size_t events_before = p.a_events.size();
  p.a.destroy(p.now, ca);
  EXPECT_EQ(p.a.state(ca), State::TimeWait);
  p.deliver_all();
  EXPECT_EQ(p.b.state(cb), State::DreqRcvd);
  p.advance_to(p.now + cm_time(19));
  EXPECT_EQ(p.a.connection_count(), 0u);
  EXPECT_EQ(p.a_events.size(), events_before);  // nothing after destroy
}

// The QP walk a verbs user makes: INIT and ERR attributes are always at hand; RTR and RTS only
// while the connection has a peer. After a disconnect the consumer moves its QP to ERR.
TEST(Disconnect, QpGoesToErrAndRtrIsRefusedInTimewait) {
  Pair p;
  auto [ca, cb] = p.connect();
  ASSERT_TRUE(p.a.disconnect(p.now, ca).has_value());
  p.deliver_one();  // DREQ
  ASSERT_TRUE(p.b.send_drep(p.now, cb).has_value());
  p.deliver_one();  // DREP
  for (auto* cm : {&p.a, &p.b}) {
    const ConnId c = cm == &p.a ? ca : cb;
    ASSERT_EQ(cm->state(c), State::TimeWait);
    auto err = cm->qp_attributes(c, QpState::Err);
    ASSERT_TRUE(err.has_value());
    EXPECT_EQ(err->state, QpState::Err);
    EXPECT_EQ(cm->qp_attributes(c, QpState::Rtr).error(), Error::InvalidState);
  }
  p.run_timers_until(p.now + std::chrono::seconds(10));
  EXPECT_EQ(p.a.qp_attributes(ca, QpState::Err).error(), Error::UnknownConnection);
}

// destroy() in the states where it must answer the peer: the message the spec asks for goes out,
// the connection passes through TIMEWAIT when its QP may already be in use, and the consumer
// hears nothing more of it.
namespace {
// Destroys the subject connection in state s; returns what its CM sent.
std::vector<Wire> destroy_in(Subject& x, State s, size_t* events_after_destroy) {
  reach(x, s);
  std::vector<Wire> sent;
  if (::testing::Test::HasFatalFailure()) return sent;
  x.cm().destroy(x.p.now, x.self);
  while (auto t = x.cm().poll_transmit()) sent.push_back(Wire{x.self_addr(), t->to, t->mad});
  x.p.collect();
  *events_after_destroy = x.events().size();
  return sent;
}
}  // namespace

TEST(Destroy, InReqRcvdRejectsTheReqAndFreesTheConnection) {
  Subject x;
  size_t events = 0;
  auto sent = destroy_in(x, State::ReqRcvd, &events);
  if (HasFatalFailure()) return;
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<wire::Rej>(sent[0].mad().message));
  const auto r = std::get<wire::Rej>(sent[0].mad().message);
  EXPECT_EQ(r.reason, wire::RejReason::ConsumerDefined);
  EXPECT_EQ(r.message_rejected, wire::MsgRef::Req);
  EXPECT_EQ(r.remote_comm_id, x.peer);
  EXPECT_FALSE(x.cm().state(x.self).has_value());
  EXPECT_EQ(x.cm().connection_count(), 0u);
  EXPECT_EQ(x.cm().timer_count(), 0u);
  // The REJ ends the active side's attempt.
  x.p.in_flight.push_back(sent[0]);
  x.p.deliver_all();
  auto rej = x.p.last<ev::RejReceived>(x.p.a_events);
  ASSERT_TRUE(rej.has_value());
  EXPECT_EQ(rej->prior, State::ReqSent);
  EXPECT_FALSE(x.peer_cm().state(x.peer).has_value());
  EXPECT_EQ(x.events().size(), events);
}

TEST(Destroy, InRepSentRejectsTheRepAndHoldsTheQpnInTimewait) {
  Subject x;
  size_t events = 0;
  auto sent = destroy_in(x, State::RepSent, &events);
  if (HasFatalFailure()) return;
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<wire::Rej>(sent[0].mad().message));
  const auto r = std::get<wire::Rej>(sent[0].mad().message);
  EXPECT_EQ(r.reason, wire::RejReason::ConsumerDefined);
  EXPECT_EQ(r.message_rejected, wire::MsgRef::Rep);
  EXPECT_EQ(x.cm().state(x.self), State::TimeWait);
  EXPECT_EQ(x.cm().next_timeout(), x.p.now + cm_time(19));
  // The QPN stays out of use until TIMEWAIT is over.
  EXPECT_EQ(x.cm().connect(x.p.now, x.p.params(x.self_qpn)).error(), Error::QpnInTimeWait);
  x.p.in_flight.push_back(sent[0]);
  x.p.deliver_all();
  EXPECT_FALSE(x.peer_cm().state(x.peer).has_value());  // A's attempt ends with the REJ
  x.p.run_timers_until(x.p.now + cm_time(19));
  EXPECT_FALSE(x.cm().state(x.self).has_value());
  EXPECT_EQ(x.cm().connection_count(), 0u);
  EXPECT_EQ(x.events().size(), events);  // no timewait_exit for a destroyed connection
}

TEST(Destroy, InDreqRcvdSendsTheDrepItOwes) {
  Subject x;
  size_t events = 0;
  auto sent = destroy_in(x, State::DreqRcvd, &events);
  if (HasFatalFailure()) return;
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<wire::Drep>(sent[0].mad().message));
  EXPECT_EQ(std::get<wire::Drep>(sent[0].mad().message).remote_comm_id, x.peer);
  EXPECT_EQ(x.cm().state(x.self), State::TimeWait);
  x.p.in_flight.push_back(sent[0]);
  x.p.deliver_all();
  EXPECT_EQ(x.peer_cm().state(x.peer), State::TimeWait);
  EXPECT_TRUE(x.p.last<ev::DrepReceived>(x.p.a_events).has_value());
  x.p.run_timers_until(x.p.now + cm_time(19));
  EXPECT_EQ(x.cm().connection_count(), 0u);
  EXPECT_EQ(x.peer_cm().connection_count(), 0u);
  EXPECT_EQ(x.events().size(), events);
}

TEST(Destroy, InTimewaitSendsNothingAndEndsOnTime) {
  Subject x;
  reach(x, State::TimeWait);
  if (HasFatalFailure()) return;
  const auto exit_at = x.cm().next_timeout();
  ASSERT_TRUE(exit_at.has_value());
  x.cm().destroy(x.p.now, x.self);
  x.p.collect();
  const size_t events = x.events().size();
  EXPECT_TRUE(x.p.in_flight.empty());
  EXPECT_EQ(x.cm().state(x.self), State::TimeWait);
  EXPECT_EQ(x.cm().next_timeout(), exit_at);
  x.p.advance_to(*exit_at - Time(1));
  EXPECT_EQ(x.cm().state(x.self), State::TimeWait);
  EXPECT_EQ(x.cm().connect(x.p.now, x.p.params(x.self_qpn)).error(), Error::QpnInTimeWait);
  x.p.advance_to(*exit_at);
  EXPECT_FALSE(x.cm().state(x.self).has_value());
  EXPECT_EQ(x.cm().timer_count(), 0u);
  EXPECT_EQ(x.events().size(), events);
}
