#include <gtest/gtest.h>

#include "engine/pair.h"

using namespace ibcm;
using namespace ibcm::test;

TEST(PeerToPeer, SimultaneousReqsResolveToOneConnection) {
  Pair p;
  auto pa = p.params(0x100, 0x5555);
  pa.peer_to_peer = true;
  ConnectParams pb = pa;
  pb.dest = p.a.config().local;
  pb.qpn = 0x200;
  pb.primary.local_gid = p.b.config().local.gid;
  pb.primary.remote_gid = p.a.config().local.gid;
  auto ca = p.a.connect(p.now, pa);
  auto cb = p.b.connect(p.now, pb);
  ASSERT_TRUE(ca.has_value() && cb.has_value());
  p.deliver_all();  // the REQs cross
  // B has the larger CA GUID (…02 > …01): B stays active, A becomes passive.
  auto got = p.last<ev::ReqReceived>(p.a_events);
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->peer_to_peer);
  EXPECT_EQ(got->conn, *ca);  // A's own connection turned passive
  EXPECT_EQ(p.a.state(*ca), State::ReqRcvd);
  EXPECT_FALSE(p.last<ev::ReqReceived>(p.b_events).has_value());
  EXPECT_EQ(p.b.counters().drop(Drop::PeerToPeerLost), 1u);
  EXPECT_EQ(p.b.state(*cb), State::ReqSent);

  AcceptParams ap;
  ap.qpn = 0x100;
  ASSERT_TRUE(p.a.accept(p.now, *ca, ap).has_value());
  p.deliver_all();
  ASSERT_TRUE(p.b.send_rtu(p.now, *cb).has_value());
  p.deliver_all();
  EXPECT_EQ(p.a.state(*ca), State::Established);
  EXPECT_EQ(p.b.state(*cb), State::Established);
  EXPECT_EQ(p.a.qp_attributes(*ca, QpState::Rtr)->dest_qpn, 0x200u);
  EXPECT_EQ(p.b.qp_attributes(*cb, QpState::Rtr)->dest_qpn, 0x100u);
}

TEST(PeerToPeer, ReqBeforeThePeerListensIsRetriedNotFailed) {
  Pair p;
  auto pa = p.params(0x100, 0x5555);
  pa.peer_to_peer = true;
  auto ca = p.a.connect(p.now, pa);
  p.deliver_all();  // B has no listener and no REQ of its own: REJ 8
  EXPECT_EQ(p.a.state(*ca), State::ReqSent);
  EXPECT_FALSE(p.last<ev::RejReceived>(p.a_events).has_value());
}
