// A handshake through the QP binding: which ibv_modify_qp calls each side makes, with what, and
// when relative to the CM messages (active: RTR + RTS on the REP, before the RTU; passive: RTR
// before the REP goes, RTS once established).
#include <gtest/gtest.h>

#include <cstring>

#include "verbs/lab.h"

using namespace ibcm;
using namespace ibcm::verbs;
using namespace ibcm::verbs::test;

using States = std::vector<ibv_qp_state>;

TEST(QpHandshake, ActiveCreatesInInitWithARandomPsnAndThePortMtu) {
  Host fresh(0x40, 0xFFFFFFFF);
  auto q = fresh.qps->create(rc_options());
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->qpn, 0x40u);
  EXPECT_EQ(q->psn, 0xFFFFFFu);  // 24 bits of what the random source gave
  EXPECT_EQ(q->mtu, wire::Mtu::Mtu1024);
  EXPECT_EQ(fresh.verbs.states_of(q->qpn), States{IBV_QPS_INIT});
  const auto& ia = fresh.verbs.init_attrs.at(0);
  EXPECT_EQ(ia.qp_type, IBV_QPT_RC);
  EXPECT_EQ(ia.cap.max_send_wr, 10u);
  EXPECT_EQ(ia.cap.max_recv_wr, 10u);
  EXPECT_EQ(ia.cap.max_send_sge, 1u);
  EXPECT_EQ(ia.cap.max_recv_sge, 1u);
  EXPECT_EQ(ia.sq_sig_all, 1);
  EXPECT_EQ(ia.send_cq, ia.recv_cq);
  const auto& init = fresh.verbs.modify_calls.at(0);
  EXPECT_EQ(init.attr.qp_access_flags,
            IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC);
  EXPECT_EQ(init.attr.port_num, 1);
}

TEST(QpHandshake, PathMtuIsTheSmallerOfThePortsAndThePeersOffer) {
  Lab lab;
  QpOptions o = rc_options();
  o.peer_mtu = wire::Mtu::Mtu512;
  EXPECT_EQ(lab.b.qps->create(o)->mtu, wire::Mtu::Mtu512);
  o.peer_mtu = wire::Mtu::Mtu4096;
  EXPECT_EQ(lab.b.qps->create(o)->mtu, wire::Mtu::Mtu1024);  // the fake port's active MTU
}

TEST(QpHandshake, EachSideTransitionsAtTheRightMessage) {
  Lab lab;
  auto [ca, qa] = lab.connect();
  lab.deliver();  // REQ
  EXPECT_EQ(lab.a.verbs.states_of(qa.qpn), States{IBV_QPS_INIT});

  auto [cb, qb] = lab.accept();
  ASSERT_TRUE(qb.has_value());
  // The REP is queued, not yet sent, and B's QP can already receive.
  EXPECT_EQ(lab.b.verbs.states_of(qb->qpn), (States{IBV_QPS_INIT, IBV_QPS_RTR}));
  const auto b_rtr = lab.b.verbs.modify_calls.back().attr;
  EXPECT_EQ(b_rtr.dest_qp_num, qa.qpn);
  // Each side receives from the PSN it advertised (A's REQ: 0xA0A0A0, B's REP: 0xB0B0B0) and
  // sends from its peer's, as Linux reads them.
  EXPECT_EQ(b_rtr.rq_psn, 0xB0B0B0u);
  EXPECT_EQ(b_rtr.path_mtu, IBV_MTU_1024);
  EXPECT_EQ(b_rtr.max_dest_rd_atomic, 1);  // what the REP promises, not the REQ's depth
  EXPECT_EQ(b_rtr.ah_attr.grh.sgid_index, 1);
  EXPECT_EQ(b_rtr.ah_attr.is_global, 1);
  EXPECT_EQ(0, std::memcmp(b_rtr.ah_attr.grh.dgid.raw, lab.p.a.config().local.gid.data(), 16));

  lab.deliver();  // REP: A's binding took the QP on to RTS before the RTU
  EXPECT_EQ(lab.a.verbs.states_of(qa.qpn), (States{IBV_QPS_INIT, IBV_QPS_RTR, IBV_QPS_RTS}));
  const auto a_rtr = lab.a.verbs.modify_calls.at(1).attr;
  const auto a_rts = lab.a.verbs.modify_calls.at(2).attr;
  EXPECT_EQ(a_rtr.dest_qp_num, qb->qpn);
  EXPECT_EQ(a_rtr.rq_psn, 0xA0A0A0u);
  EXPECT_EQ(a_rts.sq_psn, 0xB0B0B0u);
  EXPECT_EQ(a_rts.retry_cnt, 7);
  EXPECT_EQ(a_rts.timeout, 19);
  EXPECT_TRUE(lab.p.a.send_rtu(lab.p.now, ca).has_value());

  EXPECT_EQ(lab.b.verbs.states_of(qb->qpn).size(), 2u);  // no RTS before the RTU arrives
  lab.deliver();                                         // RTU
  EXPECT_EQ(lab.b.verbs.states_of(qb->qpn), (States{IBV_QPS_INIT, IBV_QPS_RTR, IBV_QPS_RTS}));
  EXPECT_EQ(lab.b.verbs.modify_calls.back().attr.sq_psn, 0xA0A0A0u);
  EXPECT_TRUE(lab.a.failures.empty());
  EXPECT_TRUE(lab.b.failures.empty());
  EXPECT_EQ(lab.a.qps->find(ca)->state, IBV_QPS_RTS);
  EXPECT_EQ(lab.b.qps->find(cb)->state, IBV_QPS_RTS);
}

// Data before the RTU: the consumer calls establish(); the `established` event brings RTS.
TEST(QpHandshake, PassiveEstablishWithoutRtuAlsoBringsRts) {
  Lab lab;
  auto [ca, qa] = lab.connect();
  lab.deliver();  // REQ
  auto [cb, qb] = lab.accept();
  lab.deliver();  // REP
  ASSERT_TRUE(lab.p.a.send_rtu(lab.p.now, ca).has_value());
  lab.drop();  // the RTU is lost
  ASSERT_TRUE(lab.p.b.establish(lab.p.now, cb).has_value());
  lab.pump();
  EXPECT_EQ(lab.b.verbs.state(qb->qpn), IBV_QPS_RTS);
}

TEST(QpHandshake, UcUsesTheUcMasks) {
  Lab lab;
  QpOptions o = rc_options();
  o.type = IBV_QPT_UC;
  lab.connect(o);
  lab.deliver();  // REQ
  lab.accept(o);
  lab.deliver();  // REP
  const auto& calls = lab.a.verbs.modify_calls;
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[1].mask,
            IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN);
  EXPECT_EQ(calls[2].mask, IBV_QP_STATE | IBV_QP_SQ_PSN);
}

TEST(QpHandshake, DatagramQpGoesStraightToRtsWithItsQkey) {
  Lab lab;
  auto q = lab.b.qps->create_datagram(0x01234567, 4, 4);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->psn, 0u);
  EXPECT_EQ(lab.b.verbs.states_of(q->qpn), (States{IBV_QPS_INIT, IBV_QPS_RTR, IBV_QPS_RTS}));
  EXPECT_EQ(lab.b.verbs.modify_calls[0].attr.qkey, 0x01234567u);
  EXPECT_EQ(lab.b.verbs.init_attrs.at(0).qp_type, IBV_QPT_UD);
  lab.b.qps->discard(q->qpn);
  EXPECT_EQ(lab.b.qps->live(), 0u);
  EXPECT_EQ(lab.b.verbs.live.qps + lab.b.verbs.live.cqs, 0);
}
