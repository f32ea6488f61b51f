// Stale connections: a REQ or REP from a (remote QPN, remote CA GUID) we still hold a connection
// for is rejected with REJ 10, and the old connection gets a DREQ naming that QPN — in every
// state, not only ESTABLISHED (where Linux stops).
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/reach.h"
#include "ibcm/wire/time.h"

using namespace ibcm;
using namespace ibcm::test;
using wire::cm_time;

namespace {
// A fresh Cm for node 1 with the same CA GUID: node A rebooted.
void reboot_a(Pair& p) {
  p.a = Cm(config_of(1, 99));
  p.in_flight.clear();
}
}  // namespace

TEST(Stale, RebootedPeerReusingItsQpnGetsRej10AndTheOldConnectionADreq) {
  Pair p;
  auto [ca, cb] = p.connect(0x100, 0x200);
  (void)ca;
  reboot_a(p);
  auto again = p.a.connect(p.now, p.params(0x100));  // same QPN, same CA GUID, new comm ID
  ASSERT_TRUE(again.has_value());
  p.deliver_one();  // REQ

  ASSERT_EQ(p.in_flight.size(), 2u);
  Wire rej = p.deliver_one();
  const auto r = std::get<wire::Rej>(rej.mad().message);
  EXPECT_EQ(r.reason, wire::RejReason::StaleConnection);
  EXPECT_EQ(r.message_rejected, wire::MsgRef::Req);
  EXPECT_EQ(r.remote_comm_id, *again);
  EXPECT_EQ(p.a.state(*again), State::TimeWait);  // the side that gets REJ 10 waits it out

  Wire dreq = p.deliver_one();
  const auto d = std::get<wire::Dreq>(dreq.mad().message);
  EXPECT_EQ(d.remote_qpn, 0x100u);
  EXPECT_EQ(d.local_comm_id, cb);
  EXPECT_EQ(p.b.state(cb), State::DreqSent);
  auto stale = p.last<ev::StaleConnection>(p.b_events);
  ASSERT_TRUE(stale.has_value());
  EXPECT_EQ(stale->conn, cb);
  EXPECT_EQ(stale->remote_qpn, 0x100u);

  // The rebooted A knows nothing of the old connection and answers with DREP at once.
  Wire drep = p.deliver_one();
  EXPECT_TRUE(std::holds_alternative<wire::Drep>(drep.mad().message));
  EXPECT_EQ(p.b.state(cb), State::TimeWait);
  EXPECT_EQ(p.b.counters().rej_sent_stale, 1u);
  EXPECT_EQ(p.b.counters().dreq_sent_stale, 1u);

  // After A's TIMEWAIT the retry succeeds.
  p.run_timers_until(p.now + cm_time(19));
  EXPECT_FALSE(p.a.state(*again).has_value());
  EXPECT_FALSE(p.b.state(cb).has_value());
  auto retry = p.a.connect(p.now, p.params(0x100));
  ASSERT_TRUE(retry.has_value());
  p.deliver_one();
  auto req = p.last<ev::ReqReceived>(p.b_events);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->req.local_comm_id, *retry);
}

// A connection in TIMEWAIT is over on both sides: a new REQ (new comm ID) from the peer's reused
// QPN starts a new connection instead of drawing a second REJ 10, while the old connection keeps
// protecting our own QPN until its TIMEWAIT ends.
TEST(Stale, NewReqFromAQpnWhoseOldConnectionIsInTimewaitIsAccepted) {
  Pair p;
  auto [ca, cb] = p.connect(0x100, 0x200);
  ASSERT_TRUE(p.a.disconnect(p.now, ca).has_value());
  p.deliver_one();  // DREQ
  ASSERT_TRUE(p.b.send_drep(p.now, cb).has_value());
  p.deliver_one();  // DREP
  ASSERT_EQ(p.b.state(cb), State::TimeWait);

  reboot_a(p);
  auto again = p.a.connect(p.now, p.params(0x100));
  ASSERT_TRUE(again.has_value());
  p.deliver_one();  // REQ from QPN 0x100 again
  auto req = p.last<ev::ReqReceived>(p.b_events);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->req.local_comm_id, *again);
  EXPECT_TRUE(p.in_flight.empty());  // no REJ 10, no DREQ
  EXPECT_EQ(p.b.counters().rej_sent_stale, 0u);
  EXPECT_EQ(p.b.state(cb), State::TimeWait);

  AcceptParams ap;
  ap.qpn = 0x200;  // still in TIMEWAIT for the old connection
  EXPECT_EQ(p.b.accept(p.now, req->conn, ap).error(), Error::QpnInTimeWait);
  ap.qpn = 0x201;
  ASSERT_TRUE(p.b.accept(p.now, req->conn, ap).has_value());
  p.deliver_one();  // REP
  ASSERT_TRUE(p.a.send_rtu(p.now, *again).has_value());
  p.deliver_all();
  EXPECT_EQ(p.b.state(req->conn), State::Established);

  // The old connection's TIMEWAIT exit must not unhook the new one from the QPN table: a third
  // incarnation of A reusing QPN 0x100 is stale against the new connection.
  p.run_timers_until(p.now + cm_time(19));
  EXPECT_FALSE(p.b.state(cb).has_value());
  p.a = Cm(config_of(1, 100));  // another seed: the same one would repeat the last comm ID
  p.in_flight.clear();
  ASSERT_TRUE(p.a.connect(p.now, p.params(0x100)).has_value());
  p.deliver_one();  // REQ
  Wire rej = p.deliver_one();
  EXPECT_EQ(std::get<wire::Rej>(rej.mad().message).reason, wire::RejReason::StaleConnection);
}

// ---- The old connection in each state: a stale REQ (StaleInState) and a stale REP
// (StaleRepInState) from the peer's reused QPN tear it down, whatever state it is in ----
namespace {
// The subject's peer forgets everything (reboot) and keeps its CA GUID and address.
void reboot_peer(Subject& x) {
  if (x.is_a)
    x.p.b = Cm(config_of(2, 77));
  else
    x.p.a = Cm(config_of(1, 99));
  x.p.in_flight.clear();
}

// Connection parameters from `from` to `to` (the Pair's, in either direction).
ConnectParams params_between(Pair& p, Cm& from, Cm& to, uint32_t qpn) {
  ConnectParams c = p.params(qpn);
  c.dest = to.config().local;
  c.primary.local_gid = from.config().local.gid;
  c.primary.remote_gid = to.config().local.gid;
  return c;
}

// Delivers every message and runs every timer up to `until` (bounded).
void settle(Pair& p, Time until) {
  for (int i = 0; i < 1000; ++i) {
    p.deliver_all();
    auto t = p.next_timeout();
    if (!t || *t > until) break;
    p.advance_to(*t);
  }
  p.deliver_all();
}

// What the subject's CM must have done, right after the stale REQ or REP reached it (its output
// is in p.in_flight, undelivered): REJ 10, then DREQ naming the reused QPN (DREQ_RCVD: the DREP
// it owed instead; DREQ_SENT: nothing more, its DREQ already names that QPN), and the consumer
// told once. Then everything runs out: the old connection ends through TIMEWAIT.
void expect_torn_down(Subject& x, State s, wire::MsgRef rejected, size_t events_before) {
  Pair& p = x.p;
  ASSERT_FALSE(p.in_flight.empty());
  const wire::Mad first = p.in_flight[0].mad();
  ASSERT_TRUE(std::holds_alternative<wire::Rej>(first.message));
  EXPECT_EQ(std::get<wire::Rej>(first.message).reason, wire::RejReason::StaleConnection);
  EXPECT_EQ(std::get<wire::Rej>(first.message).message_rejected, rejected);
  if (s == State::DreqSent) {
    EXPECT_EQ(p.in_flight.size(), 1u);
    EXPECT_EQ(x.cm().state(x.self), State::DreqSent);
  } else if (s == State::DreqRcvd) {
    ASSERT_EQ(p.in_flight.size(), 2u);
    const wire::Mad second = p.in_flight[1].mad();
    ASSERT_TRUE(std::holds_alternative<wire::Drep>(second.message));
    EXPECT_EQ(std::get<wire::Drep>(second.message).local_comm_id, x.self);
    EXPECT_EQ(std::get<wire::Drep>(second.message).remote_comm_id, x.peer);
    EXPECT_EQ(x.cm().state(x.self), State::TimeWait);
  } else {
    ASSERT_EQ(p.in_flight.size(), 2u);
    const wire::Mad second = p.in_flight[1].mad();
    ASSERT_TRUE(std::holds_alternative<wire::Dreq>(second.message));
    const auto& d = std::get<wire::Dreq>(second.message);
    EXPECT_EQ(d.local_comm_id, x.self);
    EXPECT_EQ(d.remote_comm_id, x.peer);
    EXPECT_EQ(d.remote_qpn, x.peer_qpn);
    EXPECT_EQ(x.cm().state(x.self), State::DreqSent);
    EXPECT_EQ(x.cm().counters().dreq_sent_stale, 1u);
  }
  EXPECT_EQ(x.cm().counters().rej_sent_stale, 1u);
  const std::vector<Event> events(x.events().begin() + static_cast<long>(events_before),
                                  x.events().end());
  auto stale = p.events_of<ev::StaleConnection>(events);
  // Told once, in every state (DREQ_SENT included: its DREQ is already on its way).
  ASSERT_EQ(stale.size(), 1u);
  for (const auto& e : stale) {
    EXPECT_EQ(e.conn, x.self);
    EXPECT_EQ(e.remote_qpn, x.peer_qpn);
    EXPECT_EQ(e.remote_ca_guid, x.peer_guid());
  }

  // The rebooted peer answers the DREQ (at once, or its retry) with DREP; TIMEWAIT runs out.
  settle(p, p.now + std::chrono::seconds(60));
  EXPECT_FALSE(x.cm().state(x.self).has_value());
  auto exits = p.events_of<ev::TimeWaitExit>(x.events());
  EXPECT_TRUE(std::any_of(exits.begin(), exits.end(),
                          [&](const ev::TimeWaitExit& e) { return e.conn == x.self; }));
  EXPECT_EQ(x.cm().connection_count(), 0u);
  EXPECT_EQ(x.cm().timer_count(), 0u);
}

// Every state in which the old connection knows the peer's QPN (from its REQ or REP): a REQ or REP
// from that QPN is then stale. In TIMEWAIT it no longer is (see the test above).
constexpr State kStaleStates[] = {State::ReqRcvd,     State::MraReqSent, State::RepSent,
                                  State::MraRepRcvd,  State::RepRcvd,    State::MraRepSent,
                                  State::Established, State::DreqSent,   State::DreqRcvd};
}  // namespace

class StaleInState : public ::testing::TestWithParam<State> {};

// The peer reboots and connects again from the same QPN: its REQ is stale.
TEST_P(StaleInState, StaleReqTearsDownTheOldConnection) {
  const State s = GetParam();
  Subject x;
  reach(x, s);
  if (HasFatalFailure()) return;
  reboot_peer(x);
  const size_t events_before = x.events().size();
  auto again = x.peer_cm().connect(x.p.now, params_between(x.p, x.peer_cm(), x.cm(), x.peer_qpn));
  ASSERT_TRUE(again.has_value());
  Wire req = x.p.deliver_one();
  ASSERT_TRUE(std::holds_alternative<wire::Req>(req.mad().message));
  expect_torn_down(x, s, wire::MsgRef::Req, events_before);
}

INSTANTIATE_TEST_SUITE_P(AllStates, StaleInState, ::testing::ValuesIn(kStaleStates),
                         [](const auto& info) { return std::string(to_string(info.param)); });

class StaleRepInState : public ::testing::TestWithParam<State> {};

// The peer reboots; the subject's side connects to it from a new QP, and the peer accepts with
// the QPN the old connection still names: its REP is stale, and the new attempt stops too.
TEST_P(StaleRepInState, StaleRepTearsDownTheOldConnectionAndStopsTheNewOne) {
  const State s = GetParam();
  Subject x;
  reach(x, s);
  if (HasFatalFailure()) return;
  reboot_peer(x);
  ASSERT_TRUE(x.peer_cm().listen(0x1234).has_value());
  auto fresh = x.cm().connect(x.p.now, params_between(x.p, x.cm(), x.peer_cm(), 0x300));
  ASSERT_TRUE(fresh.has_value());
  x.p.deliver_one();  // REQ
  auto& peer_events = x.is_a ? x.p.b_events : x.p.a_events;
  auto req = x.p.last<ev::ReqReceived>(peer_events);
  ASSERT_TRUE(req.has_value());
  AcceptParams ap;
  ap.qpn = x.peer_qpn;
  ASSERT_TRUE(x.peer_cm().accept(x.p.now, req->conn, ap).has_value());
  const size_t events_before = x.events().size();
  Wire rep = x.p.deliver_one();
  ASSERT_TRUE(std::holds_alternative<wire::Rep>(rep.mad().message));
  EXPECT_EQ(x.cm().state(*fresh), State::TimeWait);
  auto aborted = x.p.last<ev::Aborted>(x.events());
  ASSERT_TRUE(aborted.has_value());
  EXPECT_EQ(aborted->conn, *fresh);
  EXPECT_EQ(aborted->reason, wire::RejReason::StaleConnection);
  expect_torn_down(x, s, wire::MsgRef::Rep, events_before);
  EXPECT_EQ(x.cm().counters().of(CountedMsg::Req).tx_retries, 0u);  // the new attempt stopped
}

INSTANTIATE_TEST_SUITE_P(AllStates, StaleRepInState, ::testing::ValuesIn(kStaleStates),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(Stale, DuplicateReqForConnectionInTimewaitGetsRej10) {
  Pair p;
  auto [ca, cb] = p.connect();
  ASSERT_TRUE(p.a.disconnect(p.now, ca).has_value());
  Wire dreq = p.deliver_one();
  (void)dreq;
  ASSERT_TRUE(p.b.send_drep(p.now, cb).has_value());
  p.deliver_one();
  // Replay A's original REQ (same comm ID) at B, which is in TIMEWAIT for it.
  wire::Req r;
  r.local_comm_id = ca;
  r.local_ca_guid = p.a.config().ca_guid;
  r.local_qpn = 0x100;
  r.service_id = 0x1234;
  p.b.handle_mad(p.now, p.a.config().local, wire::encode(wire::make_mad(r, 5)));
  p.collect();
  ASSERT_EQ(p.in_flight.size(), 1u);
  const auto rej = std::get<wire::Rej>(p.in_flight.front().mad().message);
  EXPECT_EQ(rej.reason, wire::RejReason::StaleConnection);
  EXPECT_EQ(p.b.counters().of(CountedMsg::Req).rx_duplicates, 1u);
}

TEST(Stale, RepFromAQpnWeHoldIsRejectedAndBothAttemptsStop) {
  // B holds a connection with A's QPN 0x100... seen from the other direction: A holds an
  // established connection to B's QPN 0x200; B reboots and, as the ACTIVE side now, its REP
  // would name QPN 0x200 again. Build it: B connects to A (A listens), B accepts nothing.
  Pair p;
  auto [ca, cb] = p.connect(0x100, 0x200);
  (void)cb;
  // B reboots and A starts a new connection to B (another QPN); rebooted B answers with a REP
  // from its QPN 0x200 again, which A still holds in the old connection.
  p.b = Cm(config_of(2, 77));
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto a2 = p.a.connect(p.now, p.params(0x101));
  ASSERT_TRUE(a2.has_value());
  p.deliver_one();
  auto req = p.last<ev::ReqReceived>(p.b_events);
  ASSERT_TRUE(req.has_value());
  AcceptParams ap;
  ap.qpn = 0x200;
  ASSERT_TRUE(p.b.accept(p.now, req->conn, ap).has_value());
  p.deliver_one();  // REP naming QPN 0x200

  // A rejects the REP with REJ 10, sends DREQ for the old connection, and stops its own attempt.
  ASSERT_EQ(p.in_flight.size(), 2u);
  const auto rej = std::get<wire::Rej>(p.in_flight[0].mad().message);
  EXPECT_EQ(rej.reason, wire::RejReason::StaleConnection);
  EXPECT_EQ(rej.message_rejected, wire::MsgRef::Rep);
  const auto dreq = std::get<wire::Dreq>(p.in_flight[1].mad().message);
  EXPECT_EQ(dreq.remote_qpn, 0x200u);
  EXPECT_EQ(dreq.local_comm_id, ca);
  EXPECT_EQ(p.a.state(ca), State::DreqSent);
  EXPECT_EQ(p.a.state(*a2), State::TimeWait);
  auto aborted = p.last<ev::Aborted>(p.a_events);
  ASSERT_TRUE(aborted.has_value());
  EXPECT_EQ(aborted->conn, *a2);
  // No REQ retry for the stopped attempt.
  p.deliver_all();
  p.run_timers_until(p.now + std::chrono::seconds(30));
  EXPECT_EQ(p.a.counters().of(CountedMsg::Req).tx_retries, 0u);
  EXPECT_EQ(p.a.connection_count(), 0u);
}

// A duplicate of a connection's REQ arriving after the connection entered TIMEWAIT is answered
// with REJ 10 from that connection: its LocalCommID is the connection's, as Linux sends it.
TEST(Stale, DuplicateReqInTimewaitGetsRej10FromTheConnection) {
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto ca = p.a.connect(p.now, p.params(0x100));
  ASSERT_TRUE(ca.has_value());
  p.collect();
  ASSERT_EQ(p.in_flight.size(), 1u);
  const Wire req = p.in_flight.front();
  p.deliver_one();  // REQ
  auto r = p.last<ev::ReqReceived>(p.b_events);
  ASSERT_TRUE(r.has_value());
  const ConnId cb = r->conn;
  AcceptParams ap;
  ap.qpn = 0x200;
  ASSERT_TRUE(p.b.accept(p.now, cb, ap).has_value());
  p.deliver_one();  // REP
  ASSERT_TRUE(p.a.send_rtu(p.now, *ca).has_value());
  p.deliver_one();  // RTU
  ASSERT_TRUE(p.b.disconnect(p.now, cb).has_value());
  p.deliver_one();  // DREQ
  ASSERT_TRUE(p.a.send_drep(p.now, *ca).has_value());
  p.deliver_one();  // DREP
  ASSERT_EQ(p.b.state(cb), State::TimeWait);

  p.b.handle_mad(p.now, req.from, req.bytes);  // the old REQ again
  p.collect();
  ASSERT_EQ(p.in_flight.size(), 1u);
  const auto rej = std::get<wire::Rej>(p.in_flight.front().mad().message);
  EXPECT_EQ(rej.reason, wire::RejReason::StaleConnection);
  EXPECT_EQ(rej.local_comm_id, cb);
  EXPECT_EQ(rej.remote_comm_id, *ca);
  EXPECT_EQ(p.b.state(cb), State::TimeWait) << "the duplicate changes nothing";
}
