/// @file
/// The one mapping from the engine's QP attributes (Cm::qp_attributes) to ibv_modify_qp's
/// attribute struct and mask, for RC, UC and UD QPs, with the masks the Linux kernel CM uses for
/// each transition (ib_cm_init_qp_attr; for UD, rdma_cm's cma_ib_init_qp_attr).
#pragma once

#include <infiniband/verbs.h>

#include <cstdint>

#include "ibcm/api.h"
#include "ibcm/engine/params.h"

IBCM_API_BEGIN

namespace ibcm::verbs {

/// What the mapping needs beyond the engine's attributes: the QP's kind and our side of the port.
struct QpContext {
  ibv_qp_type type = IBV_QPT_RC;  ///< RC, UC or UD
  uint8_t link_layer = IBV_LINK_LAYER_ETHERNET;
  uint8_t port_num = 1;
  uint8_t sgid_index = 0;  ///< our GID (on RoCE the RoCEv2 GID of our IP address)
  uint16_t pkey_index = 0;
  uint8_t lmc = 0;  ///< IB: the port's LID mask count, for the source path bits
  /// Our responder resources: with any, the peer may also read and do atomics (INIT's access).
  uint8_t responder_resources = 0;
};

struct IbvModify {
  ibv_qp_attr attr{};
  int mask = 0;
};

/// The ibv_modify_qp arguments for the transition to a.state.
IbvModify to_ibv(const QpAttr& a, const QpContext& c);

/// The address vector to reach the peer of `path` (local = ours): the QP's primary or alternate
/// path at RTR, or a UD address handle.
ibv_ah_attr address_vector(const wire::PathInfo& path, const QpContext& c);

/// The ibv_mtu of a wire MTU (the codes are the same); None gives 0.
ibv_mtu to_ibv(wire::Mtu m);
wire::Mtu from_ibv(ibv_mtu m);

}  // namespace ibcm::verbs

IBCM_API_END
