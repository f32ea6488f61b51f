#include <gtest/gtest.h>

#include <set>

#include "engine/pair.h"
#include "ibcm/wire/time.h"

using namespace ibcm;
using namespace ibcm::test;
using wire::cm_time;

TEST(Handshake, ReqRepRtuEstablishesBothSides) {
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto ca = p.a.connect(p.now, p.params(0x100));
  ASSERT_TRUE(ca.has_value());
  EXPECT_EQ(p.a.state(*ca), State::ReqSent);

  Wire req = p.deliver_one();
  ASSERT_TRUE(std::holds_alternative<wire::Req>(req.mad().message));
  const auto r = std::get<wire::Req>(req.mad().message);
  EXPECT_EQ(r.local_comm_id, *ca);
  EXPECT_EQ(r.local_qpn, 0x100u);
  EXPECT_EQ(r.local_ca_guid, p.a.config().ca_guid);
  EXPECT_EQ(r.max_cm_retries, 15);

  auto got = p.last<ev::ReqReceived>(p.b_events);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->req.local_qpn, 0x100u);
  EXPECT_EQ(p.b.state(got->conn), State::ReqRcvd);

  AcceptParams ap;
  ap.qpn = 0x200;
  ap.psn = 0x777;
  ASSERT_TRUE(p.b.accept(p.now, got->conn, ap).has_value());
  EXPECT_EQ(p.b.state(got->conn), State::RepSent);
  Wire rep = p.deliver_one();
  const auto rp = std::get<wire::Rep>(rep.mad().message);
  EXPECT_EQ(rp.remote_comm_id, *ca);
  EXPECT_EQ(rp.local_comm_id, got->conn);
  EXPECT_EQ(rep.mad().header.transaction_id, req.mad().header.transaction_id);
  EXPECT_EQ(p.a.state(*ca), State::RepRcvd);

  // QP attributes for the active side's RTR/RTS come from the REP.
  auto rtr = p.a.qp_attributes(*ca, QpState::Rtr);
  ASSERT_TRUE(rtr.has_value());
  EXPECT_EQ(rtr->dest_qpn, 0x200u);
  EXPECT_EQ(rtr->rq_psn, 0x777u);
  auto rts = p.a.qp_attributes(*ca, QpState::Rts);
  ASSERT_TRUE(rts.has_value());
  EXPECT_EQ(rts->sq_psn, 0x555u);
  EXPECT_EQ(rts->timeout, 19);

  ASSERT_TRUE(p.a.send_rtu(p.now, *ca).has_value());
  EXPECT_EQ(p.a.state(*ca), State::Established);
  p.deliver_one();
  EXPECT_EQ(p.b.state(got->conn), State::Established);
  EXPECT_TRUE(p.last<ev::Established>(p.a_events).has_value());
  EXPECT_TRUE(p.last<ev::RtuReceived>(p.b_events).has_value());
  auto b_rtr = p.b.qp_attributes(got->conn, QpState::Rtr);
  ASSERT_TRUE(b_rtr.has_value());
  EXPECT_EQ(b_rtr->dest_qpn, 0x100u);
  EXPECT_EQ(b_rtr->rq_psn, 0x555u);

  // Nothing retransmits once established: no timers left on either side.
  EXPECT_EQ(p.a.timer_count(), 0u);
  EXPECT_EQ(p.b.timer_count(), 0u);
  EXPECT_EQ(p.a.counters().of(CountedMsg::Req).tx, 1u);
  EXPECT_EQ(p.b.counters().of(CountedMsg::Req).rx, 1u);
  EXPECT_EQ(p.b.counters().of(CountedMsg::Rtu).rx, 1u);
}

TEST(Handshake, ReqForUnlistenedServiceGetsRej8) {
  Pair p;
  auto ca = p.a.connect(p.now, p.params(0x100, 0x9999));
  ASSERT_TRUE(ca.has_value());
  p.deliver_one();  // REQ
  Wire rej = p.deliver_one();
  const auto r = std::get<wire::Rej>(rej.mad().message);
  EXPECT_EQ(r.reason, wire::RejReason::InvalidServiceId);
  EXPECT_EQ(r.message_rejected, wire::MsgRef::Req);
  auto ev = p.last<ev::RejReceived>(p.a_events);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->rej.reason, wire::RejReason::InvalidServiceId);
  EXPECT_FALSE(p.a.state(*ca).has_value());  // gone: no TIMEWAIT after a plain REJ
  EXPECT_EQ(p.a.timer_count(), 0u);
  EXPECT_EQ(p.b.connection_count(), 0u);
}

TEST(Handshake, ConsumerRejectCarriesReasonAriAndPrivateData) {
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto ca = p.a.connect(p.now, p.params(0x100));
  p.deliver_one();
  auto req = p.last<ev::ReqReceived>(p.b_events);
  uint8_t ari[3] = {1, 2, 3};
  uint8_t pd[4] = {9, 8, 7, 6};
  ASSERT_TRUE(p.b.reject(p.now, req->conn, wire::RejReason::ConsumerDefined, ari, pd).has_value());
  p.deliver_one();
  auto ev = p.last<ev::RejReceived>(p.a_events);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->rej.reason, wire::RejReason::ConsumerDefined);
  EXPECT_EQ(ev->rej.rejected_info_length, 3);
  EXPECT_EQ(ev->rej.ari[2], 3);
  EXPECT_EQ(ev->rej.private_data[0], 9);
  EXPECT_EQ(ev->prior, State::ReqSent);
  EXPECT_FALSE(p.a.state(*ca).has_value());
}

TEST(Handshake, CommunicationEstablishedBeforeRtu) {
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto ca = p.a.connect(p.now, p.params(0x100));
  p.deliver_one();
  auto req = p.last<ev::ReqReceived>(p.b_events);
  AcceptParams ap;
  ap.qpn = 0x200;
  ASSERT_TRUE(p.b.accept(p.now, req->conn, ap).has_value());
  p.deliver_one();
  ASSERT_TRUE(p.b.establish(p.now, req->conn).has_value());
  EXPECT_EQ(p.b.state(req->conn), State::Established);
  EXPECT_EQ(p.b.timer_count(), 0u);  // the REP is no longer retried
  ASSERT_TRUE(p.a.send_rtu(p.now, *ca).has_value());
  p.deliver_one();  // the late RTU is a harmless duplicate
  EXPECT_EQ(p.b.counters().of(CountedMsg::Rtu).rx_duplicates, 1u);
}

TEST(Handshake, CommIdsAreUniqueAndNotSequential) {
  Pair p;
  std::set<ConnId> ids;
  int sequential = 0;
  ConnId prev = 0, first = 0;
  for (uint32_t q = 1; q <= 2000; ++q) {
    auto c = p.a.connect(p.now, p.params(q));
    ASSERT_TRUE(c.has_value());
    EXPECT_NE(*c, 0u);
    EXPECT_TRUE(ids.insert(*c).second);
    if (q == 1) first = *c;
    if (*c == prev + 1) ++sequential;
    prev = *c;
  }
  EXPECT_LT(sequential, 3);
  // A different seed gives a different sequence.
  Pair other(2);
  auto c = other.a.connect(other.now, other.params(1));
  ASSERT_TRUE(c.has_value());
  EXPECT_NE(*c, first);
}

TEST(Handshake, LocalQpnOfALiveConnectionCannotBeReused) {
  Pair p;
  p.connect(0x100, 0x200);
  auto again = p.a.connect(p.now, p.params(0x100));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error(), Error::QpnInUse);
}
