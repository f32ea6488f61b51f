/// @file
/// The MAD common header and the twelve CM attributes as typed structs. Field names follow the
/// spec's (see schema.h, which maps each member to its bits on the wire).
#pragma once

#include <array>
#include <cstdint>
#include <variant>

#include "ibcm/api.h"
#include "ibcm/wire/types.h"

IBCM_API_BEGIN

namespace ibcm::wire {

struct MadHeader {
  uint8_t base_version = kBaseVersion;
  uint8_t mgmt_class = kCmClass;
  uint8_t class_version = kCmClassVersion;
  uint8_t method = static_cast<uint8_t>(Method::Send);  ///< includes the R (response) bit
  uint16_t status = 0;
  uint16_t class_specific = 0;
  uint64_t transaction_id = 0;
  uint16_t attribute_id = 0;
  uint32_t attribute_modifier = 0;
  bool operator==(const MadHeader&) const = default;
};

/// One path as REQ (primary, alternate) and LAP (alternate) carry it.
struct PathInfo {
  uint16_t local_lid = 0;
  uint16_t remote_lid = 0;
  Gid local_gid{};
  Gid remote_gid{};
  uint32_t flow_label = 0;  ///< 20 bits
  uint8_t packet_rate = 0;  ///< 6 bits
  uint8_t traffic_class = 0;
  uint8_t hop_limit = 0;
  uint8_t sl = 0;  ///< 4 bits
  bool subnet_local = false;
  uint8_t local_ack_timeout = 0;  ///< 5 bits
  bool operator==(const PathInfo&) const = default;
};

struct Req {
  uint32_t local_comm_id = 0;
  uint32_t vendor_id = 0;  ///< 24 bits (ECE)
  uint64_t service_id = 0;
  uint64_t local_ca_guid = 0;
  uint32_t local_qkey = 0;
  uint32_t local_qpn = 0;  ///< 24 bits
  uint8_t responder_resources = 0;
  uint32_t local_eecn = 0;  ///< 24 bits
  uint8_t initiator_depth = 0;
  uint32_t remote_eecn = 0;                ///< 24 bits
  uint8_t remote_cm_response_timeout = 0;  ///< 5 bits
  TransportType transport_service_type = TransportType::RC;
  bool end_to_end_flow_control = false;
  uint32_t starting_psn = 0;              ///< 24 bits
  uint8_t local_cm_response_timeout = 0;  ///< 5 bits
  uint8_t retry_count = 0;                ///< 3 bits
  uint16_t partition_key = 0;
  Mtu path_mtu = Mtu::None;
  bool rdc_exists = false;
  uint8_t rnr_retry_count = 0;  ///< 3 bits
  uint8_t max_cm_retries = 0;   ///< 4 bits
  bool srq = false;
  ExtendedTransport extended_transport_type = ExtendedTransport::None;
  PathInfo primary;
  PathInfo alternate;
  bool sap_supported = false;
  std::array<uint8_t, 92> private_data{};
  bool operator==(const Req&) const = default;
};

struct Mra {
  uint32_t local_comm_id = 0;
  uint32_t remote_comm_id = 0;
  MsgRef message_mraed = MsgRef::Req;
  uint8_t service_timeout = 0;  ///< 5 bits
  std::array<uint8_t, 222> private_data{};
  bool operator==(const Mra&) const = default;
};

struct Rej {
  uint32_t local_comm_id = 0;
  uint32_t remote_comm_id = 0;
  MsgRef message_rejected = MsgRef::Req;
  uint8_t rejected_info_length = 0;  ///< 7 bits, <= 72
  RejReason reason = RejReason::Unsupported;
  std::array<uint8_t, kAriSize> ari{};
  std::array<uint8_t, 148> private_data{};
  bool operator==(const Rej&) const = default;
};

struct Rep {
  uint32_t local_comm_id = 0;
  uint32_t remote_comm_id = 0;
  uint32_t local_qkey = 0;
  uint32_t local_qpn = 0;  ///< 24 bits
  uint8_t vendor_id_high = 0;
  uint32_t local_eecn = 0;  ///< 24 bits
  uint8_t vendor_id_mid = 0;
  uint32_t starting_psn = 0;  ///< 24 bits
  uint8_t vendor_id_low = 0;
  uint8_t responder_resources = 0;
  uint8_t initiator_depth = 0;
  uint8_t target_ack_delay = 0;   ///< 5 bits
  uint8_t failover_accepted = 0;  ///< 2 bits
  bool end_to_end_flow_control = false;
  uint8_t rnr_retry_count = 0;  ///< 3 bits
  bool srq = false;
  uint64_t local_ca_guid = 0;
  std::array<uint8_t, 196> private_data{};
  bool operator==(const Rep&) const = default;
};

struct Rtu {
  uint32_t local_comm_id = 0;
  uint32_t remote_comm_id = 0;
  std::array<uint8_t, 224> private_data{};
  bool operator==(const Rtu&) const = default;
};

struct Dreq {
  uint32_t local_comm_id = 0;
  uint32_t remote_comm_id = 0;
  uint32_t remote_qpn = 0;  ///< 24 bits (QPN or EECN)
  std::array<uint8_t, 220> private_data{};
  bool operator==(const Dreq&) const = default;
};

struct Drep {
  uint32_t local_comm_id = 0;
  uint32_t remote_comm_id = 0;
  std::array<uint8_t, 224> private_data{};
  bool operator==(const Drep&) const = default;
};

struct SidrReq {
  uint32_t request_id = 0;
  uint16_t partition_key = 0;
  uint64_t service_id = 0;
  std::array<uint8_t, 216> private_data{};
  bool operator==(const SidrReq&) const = default;
};

struct SidrRep {
  uint32_t request_id = 0;
  SidrStatus status = SidrStatus::Success;
  uint8_t additional_information_length = 0;  ///< <= 72
  uint32_t qpn = 0;                           ///< 24 bits
  uint64_t service_id = 0;
  uint32_t qkey = 0;
  std::array<uint8_t, kAriSize> additional_information{};
  std::array<uint8_t, 136> private_data{};
  bool operator==(const SidrRep&) const = default;
};

struct Lap {
  uint32_t local_comm_id = 0;
  uint32_t remote_comm_id = 0;
  uint32_t remote_qpn = 0;                 ///< 24 bits (QPN or EECN)
  uint8_t remote_cm_response_timeout = 0;  ///< 5 bits
  PathInfo alternate;
  std::array<uint8_t, 168> private_data{};
  bool operator==(const Lap&) const = default;
};

struct Apr {
  uint32_t local_comm_id = 0;
  uint32_t remote_comm_id = 0;
  uint8_t additional_information_length = 0;  ///< <= 72
  ApStatus ap_status = ApStatus::Success;
  std::array<uint8_t, kAriSize> additional_information{};
  std::array<uint8_t, 148> private_data{};
  bool operator==(const Apr&) const = default;
};

struct ClassPortInfo {
  uint8_t base_version = 0;
  uint8_t class_version = 0;
  uint16_t capability_mask = 0;
  uint32_t capability_mask2 = 0;  ///< 27 bits
  uint8_t resp_time_value = 0;    ///< 5 bits
  Gid redirect_gid{};
  uint8_t redirect_tc = 0;
  uint8_t redirect_sl = 0;   ///< 4 bits
  uint32_t redirect_fl = 0;  ///< 20 bits
  uint16_t redirect_lid = 0;
  uint16_t redirect_pkey = 0;
  uint32_t redirect_qp = 0;  ///< 24 bits
  uint32_t redirect_qkey = 0;
  Gid trap_gid{};
  uint8_t trap_tc = 0;
  uint8_t trap_sl = 0;   ///< 4 bits
  uint32_t trap_fl = 0;  ///< 20 bits
  uint16_t trap_lid = 0;
  uint16_t trap_pkey = 0;
  uint8_t trap_hl = 0;
  uint32_t trap_qp = 0;  ///< 24 bits
  uint32_t trap_qkey = 0;
  bool operator==(const ClassPortInfo&) const = default;
};

using Message =
    std::variant<Req, Mra, Rej, Rep, Rtu, Dreq, Drep, SidrReq, SidrRep, Lap, Apr, ClassPortInfo>;

struct Mad {
  MadHeader header;
  Message message;
  bool operator==(const Mad&) const = default;
};

}  // namespace ibcm::wire

IBCM_API_END
