// TIMEWAIT lasts the longest local ACK timeout of the paths a connection has when it enters it, on
// both sides, and follows the paths as they change (REP refusing failover, LAP, migration).
#include <gtest/gtest.h>

#include "engine/pair.h"
#include "ibcm/wire/time.h"

using namespace ibcm;
using namespace ibcm::test;
using wire::cm_time;

namespace {
wire::PathInfo alternate_of(const ConnectParams& cp, uint8_t ack_timeout) {
  wire::PathInfo alt = cp.primary;
  alt.local_lid = 0x11;
  alt.remote_lid = 0x22;
  alt.local_ack_timeout = ack_timeout;
  return alt;
}

// A connects (primary ACK timeout 19, an alternate path if given), B accepts.
std::pair<ConnId, ConnId> connect(Pair& p, std::optional<uint8_t> alt_ack,
                                  uint8_t failover_accepted = 0) {
  EXPECT_TRUE(p.b.listen(0x1234).has_value());
  ConnectParams cp = p.params(0x100);
  if (alt_ack) cp.alternate = alternate_of(cp, *alt_ack);
  auto ca = p.a.connect(p.now, cp);
  EXPECT_TRUE(ca.has_value());
  p.deliver_one();  // REQ
  auto req = p.last<ev::ReqReceived>(p.b_events);
  EXPECT_TRUE(req.has_value());
  AcceptParams ap;
  ap.qpn = 0x200;
  ap.failover_accepted = failover_accepted;
  EXPECT_TRUE(p.b.accept(p.now, req->conn, ap).has_value());
  p.deliver_one();  // REP
  EXPECT_TRUE(p.a.send_rtu(p.now, *ca).has_value());
  p.deliver_one();  // RTU
  EXPECT_EQ(p.b.state(req->conn), State::Established);
  return {*ca, req->conn};
}

// A disconnects, B answers: how long each side then stays in TIMEWAIT, measured by running its
// timers (the connection is still there 1 ns before the end, gone at it).
std::pair<Time, Time> timewait_lengths(Pair& p, ConnId ca, ConnId cb) {
  EXPECT_TRUE(p.a.disconnect(p.now, ca).has_value());
  p.deliver_one();  // DREQ
  EXPECT_TRUE(p.b.send_drep(p.now, cb).has_value());
  const Time b_entered = p.now;
  p.deliver_one();  // DREP
  const Time a_entered = p.now;
  auto length = [&](Cm& cm, ConnId c, Time entered) {
    EXPECT_EQ(cm.state(c), State::TimeWait);
    auto end = cm.next_timeout();
    EXPECT_TRUE(end.has_value());
    cm.handle_timeout(*end - Time{1});
    EXPECT_EQ(cm.state(c), State::TimeWait);
    cm.handle_timeout(*end);
    EXPECT_FALSE(cm.state(c).has_value());
    return *end - entered;
  };
  return {length(p.a, ca, a_entered), length(p.b, cb, b_entered)};
}

void load_alternate(Pair& p, ConnId ca, ConnId cb, uint8_t ack_timeout) {
  ASSERT_TRUE(
      p.a.load_alternate_path(p.now, ca, alternate_of(p.params(0x100), ack_timeout)).has_value());
  p.deliver_one();  // LAP
  ASSERT_TRUE(p.b.send_apr(p.now, cb, wire::ApStatus::Success).has_value());
  p.deliver_one();  // APR
  ASSERT_TRUE(p.a.qp_attributes(ca, QpState::Rtr)->alternate.has_value());
}
}  // namespace

TEST(TimewaitLength, PrimaryPathOnly) {
  Pair p;
  auto [ca, cb] = connect(p, std::nullopt);
  auto [a, b] = timewait_lengths(p, ca, cb);
  EXPECT_EQ(a, cm_time(19));
  EXPECT_EQ(b, cm_time(19));
}

TEST(TimewaitLength, BothSidesCoverTheReqsAlternatePath) {
  Pair p;
  auto [ca, cb] = connect(p, 21);
  auto [a, b] = timewait_lengths(p, ca, cb);
  EXPECT_EQ(a, cm_time(21));
  EXPECT_EQ(b, cm_time(21));
}

TEST(TimewaitLength, AnAlternatePathTheRepRefusesDoesNotCount) {
  Pair p;
  auto [ca, cb] = connect(p, 21, /*failover_accepted=*/1);
  auto [a, b] = timewait_lengths(p, ca, cb);
  EXPECT_EQ(a, cm_time(19));
  EXPECT_EQ(b, cm_time(19));
}

TEST(TimewaitLength, AnAlternatePathLoadedByLapCounts) {
  Pair p;
  auto [ca, cb] = connect(p, std::nullopt);
  load_alternate(p, ca, cb, 22);
  auto [a, b] = timewait_lengths(p, ca, cb);
  EXPECT_EQ(a, cm_time(22));
  EXPECT_EQ(b, cm_time(22));
}

TEST(TimewaitLength, AfterMigrationOnlyTheNewPrimaryCounts) {
  Pair p;
  auto [ca, cb] = connect(p, std::nullopt);
  load_alternate(p, ca, cb, 17);
  ASSERT_TRUE(p.a.migrate(ca).has_value());
  ASSERT_TRUE(p.b.migrate(cb).has_value());
  auto [a, b] = timewait_lengths(p, ca, cb);
  EXPECT_EQ(a, cm_time(17));
  EXPECT_EQ(b, cm_time(17));
}
