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

// Both sides on one CA (equal CA GUIDs, as two ports of one HCA or a loopback test): the QPN
// breaks the tie, the larger one stays active. Both orders, so that the rule, not the side,
// decides.
class PeerToPeerSameGuid : public ::testing::TestWithParam<bool> {};

TEST_P(PeerToPeerSameGuid, TheLargerQpnStaysActive) {
  const bool a_larger = GetParam();
  Pair p;
  Config cb = config_of(2);
  cb.ca_guid = p.a.config().ca_guid;
  p.b = Cm(cb);
  const uint32_t qa = a_larger ? 0x300 : 0x100, qb = 0x200;
  auto pa = p.params(qa, 0x5555);
  pa.peer_to_peer = true;
  ConnectParams pb = pa;
  pb.dest = p.a.config().local;
  pb.qpn = qb;
  pb.primary.local_gid = p.b.config().local.gid;
  pb.primary.remote_gid = p.a.config().local.gid;
  auto ca = p.a.connect(p.now, pa);
  auto cb_id = p.b.connect(p.now, pb);
  ASSERT_TRUE(ca.has_value() && cb_id.has_value());
  p.deliver_all();  // the REQs cross

  Cm& active = a_larger ? p.a : p.b;
  Cm& passive = a_larger ? p.b : p.a;
  const ConnId active_id = a_larger ? *ca : *cb_id, passive_id = a_larger ? *cb_id : *ca;
  auto& passive_events = a_larger ? p.b_events : p.a_events;
  auto& active_events = a_larger ? p.a_events : p.b_events;
  auto got = p.last<ev::ReqReceived>(passive_events);
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->peer_to_peer);
  EXPECT_EQ(got->conn, passive_id);  // the smaller QPN's own connection turned passive
  EXPECT_EQ(got->req.local_qpn, a_larger ? qa : qb);
  EXPECT_EQ(passive.state(passive_id), State::ReqRcvd);
  EXPECT_FALSE(p.last<ev::ReqReceived>(active_events).has_value());
  EXPECT_EQ(active.counters().drop(Drop::PeerToPeerLost), 1u);
  EXPECT_EQ(passive.counters().drop(Drop::PeerToPeerLost), 0u);
  EXPECT_EQ(active.state(active_id), State::ReqSent);

  AcceptParams ap;
  ap.qpn = a_larger ? qb : qa;
  ASSERT_TRUE(passive.accept(p.now, passive_id, ap).has_value());
  p.deliver_all();
  ASSERT_TRUE(active.send_rtu(p.now, active_id).has_value());
  p.deliver_all();
  EXPECT_EQ(p.a.state(*ca), State::Established);
  EXPECT_EQ(p.b.state(*cb_id), State::Established);
  EXPECT_EQ(p.a.qp_attributes(*ca, QpState::Rtr)->dest_qpn, qb);
  EXPECT_EQ(p.b.qp_attributes(*cb_id, QpState::Rtr)->dest_qpn, qa);
}

INSTANTIATE_TEST_SUITE_P(Order, PeerToPeerSameGuid, ::testing::Bool(),
                         [](const auto& i) { return i.param ? "ALarger" : "BLarger"; });
