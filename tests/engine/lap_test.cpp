#include <gtest/gtest.h>

#include "engine/pair.h"
#include "ibcm/wire/time.h"

using namespace ibcm;
using namespace ibcm::test;
using wire::cm_time;

namespace {
wire::PathInfo alt_path() {
  wire::PathInfo p;
  p.local_lid = 0x11;
  p.remote_lid = 0x22;
  p.local_gid[15] = 1;
  p.remote_gid[15] = 2;
  p.flow_label = 0xABCDE;
  p.hop_limit = 7;
  p.sl = 3;
  p.local_ack_timeout = 17;
  return p;
}
}  // namespace

class LapBothWays : public ::testing::TestWithParam<bool> {};

TEST_P(LapBothWays, LapAprLoadsTheAlternatePathAndMigrateUsesIt) {
  bool from_active = GetParam();
  Pair p;
  auto [ca, cb] = p.connect();
  Cm& sender = from_active ? p.a : p.b;
  Cm& receiver = from_active ? p.b : p.a;
  ConnId s = from_active ? ca : cb, r = from_active ? cb : ca;
  auto& receiver_events = from_active ? p.b_events : p.a_events;
  auto& sender_events = from_active ? p.a_events : p.b_events;

  ASSERT_TRUE(sender.load_alternate_path(p.now, s, alt_path()).has_value());
  EXPECT_EQ(sender.lap_state(s), LapState::LapSent);
  Wire lap = p.deliver_one();
  const auto l = std::get<wire::Lap>(lap.mad().message);
  EXPECT_EQ(l.alternate.flow_label, 0xABCDEu);
  EXPECT_EQ(l.remote_qpn, from_active ? 0x200u : 0x100u);
  auto got = p.last<ev::LapReceived>(receiver_events);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(receiver.lap_state(r), LapState::LapRcvd);

  // A slow receiver sends MRA first; the sender waits longer instead of retrying.
  ASSERT_TRUE(receiver.send_mra(p.now, r, 22).has_value());
  Wire mra = p.deliver_one();
  EXPECT_EQ(std::get<wire::Mra>(mra.mad().message).message_mraed, wire::MsgRef::Other);
  EXPECT_EQ(sender.lap_state(s), LapState::MraLapRcvd);

  ASSERT_TRUE(receiver.send_apr(p.now, r, wire::ApStatus::Success).has_value());
  Wire apr = p.deliver_one();
  EXPECT_EQ(std::get<wire::Apr>(apr.mad().message).ap_status, wire::ApStatus::Success);
  EXPECT_TRUE(p.last<ev::AprReceived>(sender_events).has_value());
  EXPECT_EQ(sender.lap_state(s), LapState::Idle);
  EXPECT_EQ(sender.timer_count(), 0u);

  // Both sides now have the alternate path, each from its own point of view.
  auto sa = sender.qp_attributes(s, QpState::Rtr);
  auto ra = receiver.qp_attributes(r, QpState::Rtr);
  ASSERT_TRUE(sa->alternate.has_value());
  ASSERT_TRUE(ra->alternate.has_value());
  EXPECT_EQ(sa->alternate->local_lid, 0x11);
  EXPECT_EQ(ra->alternate->local_lid, 0x22);
  ASSERT_TRUE(sender.migrate(s).has_value());
  EXPECT_EQ(sender.qp_attributes(s, QpState::Rtr)->primary.local_lid, 0x11);
  EXPECT_FALSE(sender.qp_attributes(s, QpState::Rtr)->alternate.has_value());
}

INSTANTIATE_TEST_SUITE_P(Direction, LapBothWays, ::testing::Bool(),
                         [](const auto& i) { return i.param ? "FromActive" : "FromPassive"; });

TEST(Lap, LostLapIsRetriedThenTimesOut) {
  Pair p;
  auto [ca, cb] = p.connect();
  (void)cb;
  ASSERT_TRUE(p.a.load_alternate_path(p.now, ca, alt_path()).has_value());
  Time interval = 2 * cm_time(18) + cm_time(20);
  for (int i = 0; i <= 15; ++i) {
    p.drop_one();
    p.advance_to(interval * (i + 1));
  }
  EXPECT_TRUE(p.last<ev::LapTimeout>(p.a_events).has_value());
  EXPECT_EQ(p.a.lap_state(ca), LapState::Idle);
  EXPECT_EQ(p.a.state(ca), State::Established);  // a failed LAP leaves the connection alone
  EXPECT_EQ(p.a.counters().of(CountedMsg::Lap).tx, 16u);
}

TEST(Lap, RejectedLapKeepsTheConnection) {
  Pair p;
  auto [ca, cb] = p.connect();
  ASSERT_TRUE(p.a.load_alternate_path(p.now, ca, alt_path()).has_value());
  p.deliver_one();
  ASSERT_TRUE(p.b.send_apr(p.now, cb, wire::ApStatus::Rejected).has_value());
  p.deliver_one();
  auto apr = p.last<ev::AprReceived>(p.a_events);
  ASSERT_TRUE(apr.has_value());
  EXPECT_EQ(apr->apr.ap_status, wire::ApStatus::Rejected);
  EXPECT_FALSE(p.a.qp_attributes(ca, QpState::Rtr)->alternate.has_value());
  EXPECT_EQ(p.a.state(ca), State::Established);
}

TEST(Lap, DuplicateLapAfterMraGetsTheMraAgain) {
  Pair p;
  auto [ca, cb] = p.connect();
  ASSERT_TRUE(p.a.load_alternate_path(p.now, ca, alt_path()).has_value());
  Wire lap = p.deliver_one();
  ASSERT_TRUE(p.b.send_mra(p.now, cb, 22).has_value());
  p.drop_one();                                          // MRA lost
  p.b.handle_mad(p.now, p.a.config().local, lap.bytes);  // the LAP again
  p.collect();
  ASSERT_EQ(p.in_flight.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<wire::Mra>(p.in_flight.front().mad().message));
}
