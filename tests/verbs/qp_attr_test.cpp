// The mapping from the engine's QP attributes to ibv_modify_qp, one row per (transport,
// transition): the mask is the one the Linux kernel CM uses for that transition (read from
// drivers/infiniband/core/cm.c: cm_init_qp_init_attr, cm_init_qp_rtr_attr, cm_init_qp_rts_attr
// behind ib_cm_init_qp_attr; UD from cma.c's cma_ib_init_qp_attr and librdmacm's
// ucma_init_ud_qp, which takes UD QPs to RTR with the state alone and to RTS with the SQ PSN),
// and every field of ibv_qp_attr is the value written in the row.
#include "ibcm/verbs/qp_attr.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

using namespace ibcm;
using namespace ibcm::verbs;

namespace {

constexpr int kInitConnected =
    IBV_QP_STATE | IBV_QP_ACCESS_FLAGS | IBV_QP_PKEY_INDEX | IBV_QP_PORT;  // cm_init_qp_init_attr
constexpr int kInitUd = IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_QKEY;
constexpr int kRtrUc =  // cm_init_qp_rtr_attr, any connected QP
    IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN;
constexpr int kRtrRc = kRtrUc | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;  // RC adds
constexpr int kRtsUc = IBV_QP_STATE | IBV_QP_SQ_PSN;  // cm_init_qp_rts_attr, LAP never used
constexpr int kRtsRc =
    kRtsUc | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_MAX_QP_RD_ATOMIC | IBV_QP_TIMEOUT;

wire::Gid gid_v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return wire::Gid{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d};
}

// The engine's attributes as a RoCE peer's REQ/REP would give them (every value distinct).
QpAttr engine_attr(QpState s) {
  QpAttr a;
  a.state = s;
  a.pkey = 0xFFFF;
  a.qkey = 0x11223344;
  a.dest_qpn = 0x00ABCD;
  a.rq_psn = 0x123456;
  a.path_mtu = wire::Mtu::Mtu1024;
  a.max_dest_rd_atomic = 4;
  a.min_rnr_timer = 12;
  a.primary.local_lid = 0xFFFF;
  a.primary.remote_lid = 0xFFFF;
  a.primary.local_gid = gid_v4(198, 51, 100, 3);
  a.primary.remote_gid = gid_v4(198, 51, 100, 2);
  a.primary.flow_label = 0x1ABCD;
  a.primary.packet_rate = 3;
  a.primary.traffic_class = 0x20;
  a.primary.hop_limit = 64;
  a.primary.sl = 2;
  a.primary.subnet_local = false;
  a.primary.local_ack_timeout = 19;
  a.sq_psn = 0x654321;
  a.timeout = 18;
  a.retry_count = 5;
  a.rnr_retry = 6;
  a.max_rd_atomic = 2;
  return a;
}

QpContext roce(ibv_qp_type t, uint8_t responder_resources = 4) {
  QpContext c;
  c.type = t;
  c.link_layer = IBV_LINK_LAYER_ETHERNET;
  c.port_num = 1;
  c.sgid_index = 3;
  c.pkey_index = 0;
  c.responder_resources = responder_resources;
  return c;
}

// The RoCE address vector of engine_attr's primary path with sgid_index 3.
ibv_ah_attr roce_av() {
  ibv_ah_attr ah{};
  ah.is_global = 1;
  const wire::Gid peer = gid_v4(198, 51, 100, 2);
  std::memcpy(ah.grh.dgid.raw, peer.data(), 16);
  ah.grh.flow_label = 0x1ABCD;
  ah.grh.sgid_index = 3;
  ah.grh.hop_limit = 64;
  ah.grh.traffic_class = 0x20;
  ah.dlid = 0;  // RoCE routes by GID; the path's 0xFFFF is not a LID
  ah.sl = 2;
  ah.src_path_bits = 0;
  ah.static_rate = 3;
  ah.port_num = 1;
  return ah;
}

void expect_av_eq(const ibv_ah_attr& got, const ibv_ah_attr& want, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(0, std::memcmp(got.grh.dgid.raw, want.grh.dgid.raw, 16));
  EXPECT_EQ(got.grh.flow_label, want.grh.flow_label);
  EXPECT_EQ(got.grh.sgid_index, want.grh.sgid_index);
  EXPECT_EQ(got.grh.hop_limit, want.grh.hop_limit);
  EXPECT_EQ(got.grh.traffic_class, want.grh.traffic_class);
  EXPECT_EQ(got.dlid, want.dlid);
  EXPECT_EQ(got.sl, want.sl);
  EXPECT_EQ(got.src_path_bits, want.src_path_bits);
  EXPECT_EQ(got.static_rate, want.static_rate);
  EXPECT_EQ(got.is_global, want.is_global);
  EXPECT_EQ(got.port_num, want.port_num);
}

// Every field of ibv_qp_attr.
void expect_attr_eq(const ibv_qp_attr& got, const ibv_qp_attr& want) {
  EXPECT_EQ(got.qp_state, want.qp_state);
  EXPECT_EQ(got.cur_qp_state, want.cur_qp_state);
  EXPECT_EQ(got.path_mtu, want.path_mtu);
  EXPECT_EQ(got.path_mig_state, want.path_mig_state);
  EXPECT_EQ(got.qkey, want.qkey);
  EXPECT_EQ(got.rq_psn, want.rq_psn);
  EXPECT_EQ(got.sq_psn, want.sq_psn);
  EXPECT_EQ(got.dest_qp_num, want.dest_qp_num);
  EXPECT_EQ(got.qp_access_flags, want.qp_access_flags);
  EXPECT_EQ(got.cap.max_send_wr, want.cap.max_send_wr);
  EXPECT_EQ(got.cap.max_recv_wr, want.cap.max_recv_wr);
  EXPECT_EQ(got.cap.max_send_sge, want.cap.max_send_sge);
  EXPECT_EQ(got.cap.max_recv_sge, want.cap.max_recv_sge);
  EXPECT_EQ(got.cap.max_inline_data, want.cap.max_inline_data);
  expect_av_eq(got.ah_attr, want.ah_attr, "ah_attr");
  expect_av_eq(got.alt_ah_attr, want.alt_ah_attr, "alt_ah_attr");
  EXPECT_EQ(got.pkey_index, want.pkey_index);
  EXPECT_EQ(got.alt_pkey_index, want.alt_pkey_index);
  EXPECT_EQ(got.en_sqd_async_notify, want.en_sqd_async_notify);
  EXPECT_EQ(got.sq_draining, want.sq_draining);
  EXPECT_EQ(got.max_rd_atomic, want.max_rd_atomic);
  EXPECT_EQ(got.max_dest_rd_atomic, want.max_dest_rd_atomic);
  EXPECT_EQ(got.min_rnr_timer, want.min_rnr_timer);
  EXPECT_EQ(got.port_num, want.port_num);
  EXPECT_EQ(got.timeout, want.timeout);
  EXPECT_EQ(got.retry_cnt, want.retry_cnt);
  EXPECT_EQ(got.rnr_retry, want.rnr_retry);
  EXPECT_EQ(got.alt_port_num, want.alt_port_num);
  EXPECT_EQ(got.alt_timeout, want.alt_timeout);
  EXPECT_EQ(got.rate_limit, want.rate_limit);
}

struct Row {
  std::string name;
  QpAttr in;
  QpContext ctx;
  int mask;
  ibv_qp_attr want;
};

std::vector<Row> rows() {
  std::vector<Row> r;
  auto add = [&](std::string name, QpState s, QpContext c, int mask, auto fill) {
    ibv_qp_attr w{};
    fill(w);
    r.push_back({std::move(name), engine_attr(s), c, mask, w});
  };
  for (ibv_qp_type t : {IBV_QPT_RC, IBV_QPT_UC}) {
    const std::string n = t == IBV_QPT_RC ? "RC" : "UC";
    add(n + " INIT, responder resources", QpState::Init, roce(t), kInitConnected,
        [](ibv_qp_attr& w) {
          w.qp_state = IBV_QPS_INIT;
          w.qp_access_flags =
              IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC;
          w.pkey_index = 0;
          w.port_num = 1;
        });
    add(n + " INIT, no responder resources", QpState::Init, roce(t, 0), kInitConnected,
        [](ibv_qp_attr& w) {
          w.qp_state = IBV_QPS_INIT;
          w.qp_access_flags = IBV_ACCESS_REMOTE_WRITE;
          w.port_num = 1;
        });
    add(n + " ERR", QpState::Err, roce(t), IBV_QP_STATE,
        [](ibv_qp_attr& w) { w.qp_state = IBV_QPS_ERR; });
  }
  add("RC RTR", QpState::Rtr, roce(IBV_QPT_RC), kRtrRc, [](ibv_qp_attr& w) {
    w.qp_state = IBV_QPS_RTR;
    w.ah_attr = roce_av();
    w.path_mtu = IBV_MTU_1024;
    w.dest_qp_num = 0x00ABCD;
    w.rq_psn = 0x123456;
    w.max_dest_rd_atomic = 4;
    w.min_rnr_timer = 12;
  });
  add("UC RTR", QpState::Rtr, roce(IBV_QPT_UC), kRtrUc, [](ibv_qp_attr& w) {
    w.qp_state = IBV_QPS_RTR;
    w.ah_attr = roce_av();
    w.path_mtu = IBV_MTU_1024;
    w.dest_qp_num = 0x00ABCD;
    w.rq_psn = 0x123456;
  });
  add("RC RTS", QpState::Rts, roce(IBV_QPT_RC), kRtsRc, [](ibv_qp_attr& w) {
    w.qp_state = IBV_QPS_RTS;
    w.sq_psn = 0x654321;
    w.timeout = 18;
    w.retry_cnt = 5;
    w.rnr_retry = 6;
    w.max_rd_atomic = 2;
  });
  add("UC RTS", QpState::Rts, roce(IBV_QPT_UC), kRtsUc, [](ibv_qp_attr& w) {
    w.qp_state = IBV_QPS_RTS;
    w.sq_psn = 0x654321;
  });
  add("UD INIT", QpState::Init, roce(IBV_QPT_UD), kInitUd, [](ibv_qp_attr& w) {
    w.qp_state = IBV_QPS_INIT;
    w.qkey = 0x11223344;
    w.port_num = 1;
  });
  add("UD RTR", QpState::Rtr, roce(IBV_QPT_UD), IBV_QP_STATE,
      [](ibv_qp_attr& w) { w.qp_state = IBV_QPS_RTR; });
  add("UD RTS", QpState::Rts, roce(IBV_QPT_UD), kRtsUc, [](ibv_qp_attr& w) {
    w.qp_state = IBV_QPS_RTS;
    w.sq_psn = 0x654321;
  });
  add("UD ERR", QpState::Err, roce(IBV_QPT_UD), IBV_QP_STATE,
      [](ibv_qp_attr& w) { w.qp_state = IBV_QPS_ERR; });
  return r;
}

}  // namespace

TEST(QpAttrMapping, EveryTransportAndTransitionAsTheKernelCm) {
  const auto table = rows();
  ASSERT_EQ(table.size(), 14u);
  for (const Row& row : table) {
    SCOPED_TRACE(row.name);
    IbvModify m = to_ibv(row.in, row.ctx);
    EXPECT_EQ(m.mask, row.mask);
    expect_attr_eq(m.attr, row.want);
  }
}

// On IB the path is routed by LID: the DLID and SL come from the path, the GRH only off-subnet,
// the source path bits from our LID under the port's LMC; an alternate path with a DLID is
// loaded at RTR and armed at RTS, as cm_init_qp_rtr_attr / cm_init_qp_rts_attr do.
TEST(QpAttrMapping, InfiniBandLidRoutingAndAlternatePath) {
  QpContext c = roce(IBV_QPT_RC);
  c.link_layer = IBV_LINK_LAYER_INFINIBAND;
  c.lmc = 2;
  QpAttr a = engine_attr(QpState::Rtr);
  a.primary.local_lid = 0x0013;
  a.primary.remote_lid = 0x0042;
  a.primary.subnet_local = true;
  wire::PathInfo alt = a.primary;
  alt.remote_lid = 0x0043;
  alt.local_ack_timeout = 20;
  alt.subnet_local = false;
  a.alternate = alt;

  IbvModify rtr = to_ibv(a, c);
  EXPECT_EQ(rtr.mask, kRtrRc | IBV_QP_ALT_PATH);
  EXPECT_EQ(rtr.attr.ah_attr.dlid, 0x0042);
  EXPECT_EQ(rtr.attr.ah_attr.is_global, 0);
  EXPECT_EQ(rtr.attr.ah_attr.src_path_bits, 0x3);  // 0x13 under a 2-bit LMC
  EXPECT_EQ(rtr.attr.ah_attr.sl, 2);
  EXPECT_EQ(rtr.attr.alt_ah_attr.dlid, 0x0043);
  EXPECT_EQ(rtr.attr.alt_ah_attr.is_global, 1);
  EXPECT_EQ(rtr.attr.alt_ah_attr.grh.sgid_index, 3);
  EXPECT_EQ(rtr.attr.alt_port_num, 1);
  EXPECT_EQ(rtr.attr.alt_pkey_index, 0);
  EXPECT_EQ(rtr.attr.alt_timeout, 20);

  a.state = QpState::Rts;
  IbvModify rts = to_ibv(a, c);
  EXPECT_EQ(rts.mask, kRtsRc | IBV_QP_PATH_MIG_STATE);
  EXPECT_EQ(rts.attr.path_mig_state, IBV_MIG_REARM);
}

// RoCE paths carry no DLID, so the kernel never loads an alternate path there; neither do we.
TEST(QpAttrMapping, RoceIgnoresAnAlternatePath) {
  QpAttr a = engine_attr(QpState::Rtr);
  a.alternate = a.primary;
  EXPECT_EQ(to_ibv(a, roce(IBV_QPT_RC)).mask, kRtrRc);
  a.state = QpState::Rts;
  EXPECT_EQ(to_ibv(a, roce(IBV_QPT_RC)).mask, kRtsRc);
}

TEST(QpAttrMapping, MtuCodesAreTheVerbsOnes) {
  EXPECT_EQ(to_ibv(wire::Mtu::Mtu256), IBV_MTU_256);
  EXPECT_EQ(to_ibv(wire::Mtu::Mtu4096), IBV_MTU_4096);
  EXPECT_EQ(from_ibv(IBV_MTU_2048), wire::Mtu::Mtu2048);
  EXPECT_EQ(from_ibv(static_cast<ibv_mtu>(0)), wire::Mtu::None);
}
