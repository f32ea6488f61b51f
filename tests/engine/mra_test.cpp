// MRA for a REP and for a LAP: the sender stops retrying for the MRA's ServiceTimeout + the packet
// lifetime, then resumes its retries where they were (docs/engine.md, "MRA"). Exact times.
#include <gtest/gtest.h>

#include "engine/pair.h"
#include "ibcm/wire/time.h"

using namespace ibcm;
using namespace ibcm::test;
using wire::cm_time;

namespace {
// The retry interval on both sides with the Pair's parameters: 2 x PacketLifeTime (18; the
// passive side's from the REQ's local ACK timeout 19 - 1) + the CM response timeout (20).
const Time kInterval = 2 * cm_time(18) + cm_time(20);
// The MRAs here ask for ServiceTimeout 22: the wait is 22 + the packet lifetime 18.
const Time kMraWait = cm_time(22) + cm_time(18);

// A connects to B, B accepts (REP delivered), A answers with MRA (delivered). Returns the ids.
std::pair<ConnId, ConnId> rep_mraed(Pair& p, uint8_t max_cm_retries = 15) {
  EXPECT_TRUE(p.b.listen(0x1234).has_value());
  auto params = p.params(0x100);
  params.max_cm_retries = max_cm_retries;
  auto ca = p.a.connect(p.now, params);
  EXPECT_TRUE(ca.has_value());
  p.deliver_one();  // REQ
  auto req = p.last<ev::ReqReceived>(p.b_events);
  EXPECT_TRUE(req.has_value());
  AcceptParams ap;
  ap.qpn = 0x200;
  EXPECT_TRUE(p.b.accept(p.now, req->conn, ap).has_value());
  p.deliver_one();  // REP
  EXPECT_TRUE(p.a.send_mra(p.now, *ca, 22).has_value());
  Wire mra = p.deliver_one();
  EXPECT_EQ(std::get<wire::Mra>(mra.mad().message).message_mraed, wire::MsgRef::Rep);
  return {*ca, req->conn};
}
}  // namespace

TEST(Mra, ForRepDefersTheRepRetryToServiceTimeoutPlusPacketLifetime) {
  Pair p;
  auto [ca, cb] = rep_mraed(p);
  EXPECT_EQ(p.a.state(ca), State::MraRepSent);
  EXPECT_EQ(p.b.state(cb), State::MraRepRcvd);
  EXPECT_TRUE(p.last<ev::MraReceived>(p.b_events).has_value());
  ASSERT_GT(kMraWait, kInterval);  // or the test could not tell the two apart
  EXPECT_EQ(p.b.next_timeout(), kMraWait);

  p.advance_to(kMraWait - Time(1));  // past the REP interval, not past the MRA wait
  EXPECT_TRUE(p.in_flight.empty());
  EXPECT_EQ(p.b.counters().of(CountedMsg::Rep).tx, 1u);
  p.advance_to(kMraWait);
  ASSERT_EQ(p.in_flight.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<wire::Rep>(p.in_flight.front().mad().message));
  EXPECT_EQ(p.b.counters().of(CountedMsg::Rep).tx_retries, 1u);
  EXPECT_EQ(p.b.state(cb), State::RepSent);
  EXPECT_EQ(p.b.next_timeout(), kMraWait + kInterval);  // back to the normal interval

  // The REP again at A, which has MRAed it: the MRA again, then A's RTU completes.
  p.deliver_one();
  Wire mra = p.deliver_one();
  EXPECT_TRUE(std::holds_alternative<wire::Mra>(mra.mad().message));
  EXPECT_EQ(p.a.counters().of(CountedMsg::Rep).rx_duplicates, 1u);
  ASSERT_TRUE(p.a.send_rtu(p.now, ca).has_value());
  p.deliver_all();
  EXPECT_EQ(p.b.state(cb), State::Established);
  EXPECT_EQ(p.b.timer_count(), 0u);
}

// The wait does not give the REP new retries: with MaxCMRetries 2, the wait's end is the first
// retry, one more follows an interval later, and the next interval ends in the REP timeout.
TEST(Mra, ForRepResumesTheRetriesWhereTheyWere) {
  Pair p;
  auto [ca, cb] = rep_mraed(p, 2);
  (void)ca;
  p.advance_to(kMraWait);
  ASSERT_EQ(p.in_flight.size(), 1u);
  p.drop_one();  // REP retry 1
  p.advance_to(kMraWait + kInterval);
  ASSERT_EQ(p.in_flight.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<wire::Rep>(p.drop_one().mad().message));  // retry 2
  p.advance_to(kMraWait + 2 * kInterval - Time(1));
  EXPECT_TRUE(p.in_flight.empty());
  EXPECT_FALSE(p.last<ev::RepTimeout>(p.b_events).has_value());
  p.advance_to(kMraWait + 2 * kInterval);
  EXPECT_TRUE(p.last<ev::RepTimeout>(p.b_events).has_value());
  EXPECT_EQ(p.b.state(cb), State::TimeWait);
  ASSERT_EQ(p.in_flight.size(), 1u);
  EXPECT_EQ(std::get<wire::Rej>(p.in_flight.front().mad().message).reason,
            wire::RejReason::Timeout);
  EXPECT_EQ(p.b.counters().of(CountedMsg::Rep).tx, 3u);
}

TEST(Mra, ForLapDefersTheLapRetryToServiceTimeoutPlusPacketLifetime) {
  Pair p;
  auto [ca, cb] = p.connect();
  wire::PathInfo alt;
  alt.local_lid = 0x11;
  alt.remote_lid = 0x22;
  alt.local_ack_timeout = 17;
  ASSERT_TRUE(p.a.load_alternate_path(p.now, ca, alt).has_value());
  EXPECT_EQ(p.a.next_timeout(), p.now + kInterval);
  Wire lap = p.deliver_one();
  ASSERT_TRUE(std::holds_alternative<wire::Lap>(lap.mad().message));
  ASSERT_TRUE(p.b.send_mra(p.now, cb, 22).has_value());
  Wire mra = p.deliver_one();
  EXPECT_EQ(std::get<wire::Mra>(mra.mad().message).message_mraed, wire::MsgRef::Other);
  EXPECT_EQ(p.a.lap_state(ca), LapState::MraLapRcvd);
  EXPECT_TRUE(p.last<ev::MraReceived>(p.a_events).has_value());
  const Time t0 = p.now;
  EXPECT_EQ(p.a.next_timeout(), t0 + kMraWait);

  p.advance_to(t0 + kMraWait - Time(1));
  EXPECT_TRUE(p.in_flight.empty());
  p.advance_to(t0 + kMraWait);
  ASSERT_EQ(p.in_flight.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<wire::Lap>(p.in_flight.front().mad().message));
  EXPECT_EQ(p.a.counters().of(CountedMsg::Lap).tx_retries, 1u);
  EXPECT_EQ(p.a.lap_state(ca), LapState::LapSent);
  EXPECT_EQ(p.a.next_timeout(), t0 + kMraWait + kInterval);

  // B, still working on it, answers the repeated LAP with its MRA again, then with APR.
  p.deliver_one();
  Wire mra2 = p.deliver_one();
  EXPECT_TRUE(std::holds_alternative<wire::Mra>(mra2.mad().message));
  EXPECT_EQ(p.a.lap_state(ca), LapState::MraLapRcvd);
  ASSERT_TRUE(p.b.send_apr(p.now, cb, wire::ApStatus::Success).has_value());
  p.deliver_all();
  EXPECT_EQ(p.a.lap_state(ca), LapState::Idle);
  EXPECT_EQ(p.a.timer_count(), 0u);
  EXPECT_EQ(p.a.qp_attributes(ca, QpState::Rtr)->alternate->local_lid, 0x11);
}
