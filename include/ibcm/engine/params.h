/// @file
/// What the consumer passes to connect / accept / LAP / SIDR, and the QP attributes it gets back.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "ibcm/api.h"
#include "ibcm/engine/types.h"
#include "ibcm/wire/messages.h"

IBCM_API_BEGIN

namespace ibcm {

struct ConnectParams {
  uint64_t service_id = 0;
  Address dest;       ///< where the REQ goes (the peer's CM)
  uint32_t qpn = 0;   ///< our QP (24 bits); ibcm has no QP, the consumer names it
  uint32_t psn = 0;   ///< our starting PSN (24 bits): the PSN our receive queue expects first
  uint32_t qkey = 0;  ///< UD/RD only
  wire::TransportType transport = wire::TransportType::RC;
  wire::ExtendedTransport extended = wire::ExtendedTransport::None;
  wire::PathInfo primary;
  std::optional<wire::PathInfo> alternate;
  uint8_t responder_resources = 0;
  uint8_t initiator_depth = 0;
  uint8_t retry_count = 7;
  uint8_t rnr_retry_count = 7;
  wire::Mtu mtu = wire::Mtu::Mtu1024;
  uint16_t pkey = 0xFFFF;
  bool srq = false;
  bool flow_control = true;
  uint8_t packet_life_time = 18;            ///< exponent, from the path record
  uint8_t remote_cm_response_timeout = 20;  ///< exponent: how long the peer's CM may take
  uint8_t max_cm_retries = 15;              ///< 4 bits
  uint32_t vendor_id = 0;                   ///< ECE, 24 bits
  std::span<const uint8_t> private_data;    ///< <= 92 bytes
  /// Peer-to-peer: the peer also sends a REQ for this service; the collision rule (docs/engine.md)
  /// makes one side passive. A REJ 8 (no listener yet) is retried rather than final.
  bool peer_to_peer = false;
};

struct AcceptParams {
  uint32_t qpn = 0;
  uint32_t psn = 0;  ///< the PSN our receive queue expects first (the peer sends from it)
  uint32_t qkey = 0;
  uint8_t responder_resources = 0;
  uint8_t initiator_depth = 0;
  uint8_t target_ack_delay = 0;
  uint8_t failover_accepted = 0;  ///< 0 accepted, 1 not supported, 2 rejected
  uint8_t rnr_retry_count = 7;
  bool srq = false;
  bool flow_control = true;
  uint32_t vendor_id = 0;                 ///< ECE, 24 bits
  std::span<const uint8_t> private_data;  ///< <= 196 bytes
};

struct SidrParams {
  uint64_t service_id = 0;
  Address dest;
  uint16_t pkey = 0xFFFF;
  std::span<const uint8_t> private_data;  ///< <= 216 bytes
  /// How long to wait for the SIDR_REP per try (> 0), and how many times to send the SIDR_REQ
  /// again before sidr_timeout, as Linux's ib_cm_sidr_req_param timeout_ms / max_cm_retries.
  /// Unset: Config::sidr_timeout and Config::sidr_retries.
  std::optional<Time> timeout;
  std::optional<uint8_t> max_retries;
};

struct SidrReplyParams {
  wire::SidrStatus status = wire::SidrStatus::Success;
  uint32_t qpn = 0;
  uint32_t qkey = 0;
  std::span<const uint8_t> additional_info;  ///< <= 72 bytes
  std::span<const uint8_t> private_data;     ///< <= 136 bytes
};

enum class QpState : uint8_t { Init, Rtr, Rts, Err };

/// The attributes a verbs user applies to its QP for one transition (ib_cm_init_qp_attr).
struct QpAttr {
  QpState state = QpState::Init;
  uint16_t pkey = 0xFFFF;
  uint32_t qkey = 0;
  /// RTR
  uint32_t dest_qpn = 0;
  uint32_t rq_psn = 0;
  wire::Mtu path_mtu = wire::Mtu::None;
  uint8_t max_dest_rd_atomic = 0;
  uint8_t min_rnr_timer = 0;
  wire::PathInfo primary;  ///< as seen from this side (local = ours)
  std::optional<wire::PathInfo> alternate;
  /// RTS
  uint32_t sq_psn = 0;
  uint8_t timeout = 0;  ///< local ACK timeout exponent
  uint8_t retry_count = 0;
  uint8_t rnr_retry = 0;
  uint8_t max_rd_atomic = 0;
};

/// The REQ that connect() sends for `p`, with our communication ID, CA GUID and CM response time
/// (exponent): one mapping, for the engine and for whoever speaks raw MADs (the probe).
wire::Req req_of(const ConnectParams& p, uint32_t local_comm_id, uint64_t ca_guid,
                 uint8_t local_cm_response_timeout);

}  // namespace ibcm

IBCM_API_END
