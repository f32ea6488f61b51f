// A REJ 10 that a rebooted peer's REQ drew, overtaken by that REQ's retry: the retry found the old
// connection gone and set up a new one, which the late REJ (LocalCommID 0: no connection behind
// it) must not end.
#include <gtest/gtest.h>

#include "engine/pair.h"

using namespace ibcm;
using namespace ibcm::test;

TEST(StaleReorder, LateRej10ForAReqWhoseRetryConnectedIsIgnored) {
  Pair p;
  auto [ca, cb] = p.connect(0x100, 0x200);
  (void)ca;
  p.a = Cm(config_of(1, 99));  // A reboots and connects again from QPN 0x100
  p.in_flight.clear();
  auto again = p.a.connect(p.now, p.params(0x100));
  ASSERT_TRUE(again.has_value());
  p.deliver_one();  // REQ: B answers REJ 10 and sends DREQ for the old connection
  Wire late_rej = p.drop_one();
  ASSERT_EQ(std::get<wire::Rej>(late_rej.mad().message).reason, wire::RejReason::StaleConnection);
  ASSERT_EQ(std::get<wire::Rej>(late_rej.mad().message).local_comm_id, 0u);
  p.deliver_all();  // DREQ, and the rebooted A's DREP: the old connection is in TIMEWAIT
  ASSERT_EQ(p.b.state(cb), State::TimeWait);

  // A's REQ retry is a new REQ now; B accepts it and the connection is made.
  p.advance_to(*p.a.next_timeout());
  p.deliver_one();
  auto req = p.last<ev::ReqReceived>(p.b_events);
  ASSERT_TRUE(req.has_value());
  AcceptParams ap;
  ap.qpn = 0x201;
  ASSERT_TRUE(p.b.accept(p.now, req->conn, ap).has_value());
  p.deliver_one();  // REP
  ASSERT_TRUE(p.a.send_rtu(p.now, *again).has_value());
  p.deliver_one();  // RTU
  ASSERT_EQ(p.b.state(req->conn), State::Established);

  // The REJ 10 arrives at last.
  const auto drops = p.a.counters().drop(Drop::WrongSource);
  p.a.handle_mad(p.now, late_rej.from, late_rej.bytes);
  p.collect();
  EXPECT_EQ(p.a.state(*again), State::Established);
  EXPECT_FALSE(p.last<ev::RejReceived>(p.a_events).has_value());
  EXPECT_EQ(p.a.counters().drop(Drop::WrongSource), drops + 1);
  EXPECT_TRUE(p.in_flight.empty());
}
