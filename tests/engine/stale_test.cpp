// Stale connections: a REQ or REP from a (remote QPN, remote CA GUID) we still hold a connection
// for is rejected with REJ 10, and the old connection gets a DREQ naming that QPN — in every
// state, not only ESTABLISHED (where Linux stops).
#include <gtest/gtest.h>

#include "engine/pair.h"
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

// The old connection is torn down whatever state it is in.
class StaleInState : public ::testing::TestWithParam<State> {};

TEST_P(StaleInState, OldConnectionGetsDreq) {
  State target = GetParam();
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto ca = p.a.connect(p.now, p.params(0x100));
  p.deliver_one();
  auto req = p.last<ev::ReqReceived>(p.b_events);
  ConnId cb = req->conn;
  AcceptParams ap;
  ap.qpn = 0x200;
  if (target == State::MraReqSent) {
    ASSERT_TRUE(p.b.send_mra(p.now, cb, 20).has_value());
  }
  if (target == State::RepSent || target == State::MraRepRcvd || target == State::Established) {
    ASSERT_TRUE(p.b.accept(p.now, cb, ap).has_value());
  }
  if (target == State::MraRepRcvd) {
    p.deliver_one();  // REP
    ASSERT_TRUE(p.a.send_mra(p.now, *ca, 20).has_value());
    p.deliver_one();  // MRA
  }
  if (target == State::Established) {
    p.deliver_one();
    ASSERT_TRUE(p.a.send_rtu(p.now, *ca).has_value());
  }
  p.deliver_all();
  ASSERT_EQ(p.b.state(cb), target);

  reboot_a(p);
  ASSERT_TRUE(p.a.connect(p.now, p.params(0x100)).has_value());
  p.deliver_one();  // REQ from the same QPN
  Wire rej = p.deliver_one();
  EXPECT_EQ(std::get<wire::Rej>(rej.mad().message).reason, wire::RejReason::StaleConnection);
  Wire dreq = p.deliver_one();
  ASSERT_TRUE(std::holds_alternative<wire::Dreq>(dreq.mad().message));
  EXPECT_EQ(std::get<wire::Dreq>(dreq.mad().message).remote_qpn, 0x100u);
  p.deliver_all();  // DREP from the rebooted side
  EXPECT_EQ(p.b.state(cb), State::TimeWait);
  p.run_timers_until(p.now + std::chrono::seconds(30));
  EXPECT_EQ(p.b.connection_count(), 0u);
  EXPECT_EQ(p.b.timer_count(), 0u);
}

INSTANTIATE_TEST_SUITE_P(AllStates, StaleInState,
                         ::testing::Values(State::ReqRcvd, State::MraReqSent, State::RepSent,
                                           State::MraRepRcvd, State::Established),
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
