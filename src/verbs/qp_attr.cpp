#include "ibcm/verbs/qp_attr.h"

#include <cstring>

namespace ibcm::verbs {

namespace {

bool is_ib(const QpContext& c) {
  return c.link_layer == IBV_LINK_LAYER_INFINIBAND;
}

// The kernel CM loads an alternate path only when it has a DLID: never on RoCE, whose paths
// carry none, so neither do we.
bool has_alternate(const QpAttr& a, const QpContext& c) {
  return a.alternate && is_ib(c) && a.alternate->remote_lid != 0 && c.type != IBV_QPT_UD;
}

void init(const QpAttr& a, const QpContext& c, IbvModify& m) {
  m.attr.pkey_index = c.pkey_index;
  m.attr.port_num = c.port_num;
  m.mask |= IBV_QP_PKEY_INDEX | IBV_QP_PORT;
  if (c.type == IBV_QPT_UD) {
    m.attr.qkey = a.qkey;
    m.mask |= IBV_QP_QKEY;
    return;
  }
  m.attr.qp_access_flags = IBV_ACCESS_REMOTE_WRITE;
  if (c.responder_resources > 0)
    m.attr.qp_access_flags |= IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC;
  m.mask |= IBV_QP_ACCESS_FLAGS;
}

void rtr(const QpAttr& a, const QpContext& c, IbvModify& m) {
  if (c.type == IBV_QPT_UD) return;  // a UD QP's RTR takes nothing but the state
  m.attr.ah_attr = address_vector(a.primary, c);
  m.attr.path_mtu = to_ibv(a.path_mtu);
  m.attr.dest_qp_num = a.dest_qpn;
  m.attr.rq_psn = a.rq_psn;
  m.mask |= IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN;
  if (c.type == IBV_QPT_RC) {
    m.attr.max_dest_rd_atomic = a.max_dest_rd_atomic;
    m.attr.min_rnr_timer = a.min_rnr_timer;
    m.mask |= IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;
  }
  if (has_alternate(a, c)) {
    m.attr.alt_ah_attr = address_vector(*a.alternate, c);
    m.attr.alt_port_num = c.port_num;
    m.attr.alt_pkey_index = c.pkey_index;
    m.attr.alt_timeout = a.alternate->local_ack_timeout;
    m.mask |= IBV_QP_ALT_PATH;
  }
}

void rts(const QpAttr& a, const QpContext& c, IbvModify& m) {
  m.attr.sq_psn = a.sq_psn;
  m.mask |= IBV_QP_SQ_PSN;
  if (c.type == IBV_QPT_RC) {
    m.attr.timeout = a.timeout;
    m.attr.retry_cnt = a.retry_count;
    m.attr.rnr_retry = a.rnr_retry;
    m.attr.max_rd_atomic = a.max_rd_atomic;
    m.mask |= IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_MAX_QP_RD_ATOMIC;
  }
  if (has_alternate(a, c)) {
    m.attr.path_mig_state = IBV_MIG_REARM;
    m.mask |= IBV_QP_PATH_MIG_STATE;
  }
}

}  // namespace

ibv_mtu to_ibv(wire::Mtu m) {
  return static_cast<ibv_mtu>(m);
}

wire::Mtu from_ibv(ibv_mtu m) {
  if (m < IBV_MTU_256 || m > IBV_MTU_4096) return wire::Mtu::None;
  return static_cast<wire::Mtu>(m);
}

ibv_ah_attr address_vector(const wire::PathInfo& path, const QpContext& c) {
  ibv_ah_attr ah{};
  ah.port_num = c.port_num;
  ah.sl = path.sl;
  // The CM's PacketRate and the verbs static rate share the IB rate encoding.
  ah.static_rate = path.packet_rate;
  // RoCE routes by GID alone, always with a GRH; IB by LID, with a GRH only off the subnet.
  ah.is_global = is_ib(c) ? !path.subnet_local : 1;
  if (is_ib(c)) {
    ah.dlid = path.remote_lid;
    ah.src_path_bits = static_cast<uint8_t>(path.local_lid & ((1u << c.lmc) - 1));
  }
  if (ah.is_global) {
    std::memcpy(ah.grh.dgid.raw, path.remote_gid.data(), sizeof ah.grh.dgid.raw);
    ah.grh.sgid_index = c.sgid_index;
    ah.grh.flow_label = path.flow_label & 0xFFFFF;
    ah.grh.hop_limit = path.hop_limit;
    ah.grh.traffic_class = path.traffic_class;
  }
  return ah;
}

IbvModify to_ibv(const QpAttr& a, const QpContext& c) {
  IbvModify m;
  m.mask = IBV_QP_STATE;
  switch (a.state) {
    case QpState::Init:
      m.attr.qp_state = IBV_QPS_INIT;
      init(a, c, m);
      break;
    case QpState::Rtr:
      m.attr.qp_state = IBV_QPS_RTR;
      rtr(a, c, m);
      break;
    case QpState::Rts:
      m.attr.qp_state = IBV_QPS_RTS;
      rts(a, c, m);
      break;
    case QpState::Err:
      m.attr.qp_state = IBV_QPS_ERR;
      break;
  }
  return m;
}

}  // namespace ibcm::verbs
