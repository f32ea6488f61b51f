/// @file
/// The wire layout of every CM message: one descriptor per field, transcribed from IBTA Vol 1
/// ch. 12 (docs/wire.md). Offsets are inside the 232-byte CM data, except for the MAD header whose
/// offsets are inside the MAD. Gaps are reserved: written as zero, ignored on receive.
#pragma once

#include <array>
#include <span>
#include <string_view>
#include <variant>

#include "ibcm/api.h"
#include "ibcm/wire/field.h"
#include "ibcm/wire/messages.h"

IBCM_API_BEGIN

namespace ibcm::wire {

template <class M>
struct Schema;

/// A number field that counts the bytes used of a byte field of the same message. Such a count
/// above the byte field's size is a decode error (LengthField): a receiver would index past the
/// field with it. A schema lists its length fields as `lengths`; most have none.
struct LengthOf {
  std::string_view count;  ///< e.g. "RejectedInfoLength"
  std::string_view bytes;  ///< e.g. "ARI"
};

template <>
struct Schema<MadHeader> {
  static constexpr std::string_view name = "MAD";
  static constexpr uint32_t region = kMadHeaderSize;
  using M = MadHeader;
  static constexpr auto fields = std::to_array<Field<M>>({
      IBCM_U(M, base_version, "BaseVersion", 0, 0, 8),
      IBCM_U(M, mgmt_class, "MgmtClass", 1, 0, 8),
      IBCM_U(M, class_version, "ClassVersion", 2, 0, 8),
      IBCM_U(M, method, "Method", 3, 0, 8),
      IBCM_U(M, status, "Status", 4, 0, 16),
      IBCM_U(M, class_specific, "ClassSpecific", 6, 0, 16),
      IBCM_ID(M, transaction_id, "TransactionID", 8, 64),
      IBCM_U(M, attribute_id, "AttributeID", 16, 0, 16),
      IBCM_U(M, attribute_modifier, "AttributeModifier", 20, 0, 32),
  });
};

template <>
struct Schema<Req> {
  static constexpr std::string_view name = "REQ";
  static constexpr AttrId attr = AttrId::Req;
  static constexpr uint32_t region = kCmDataSize;
  using M = Req;
  static constexpr auto fields = std::to_array<Field<M>>({
      IBCM_ID(M, local_comm_id, "LocalCommID", 0, 32),
      IBCM_U(M, vendor_id, "VendorID", 5, 0, 24),
      IBCM_ID(M, service_id, "ServiceID", 8, 64),
      IBCM_ID(M, local_ca_guid, "LocalCAGUID", 16, 64),
      IBCM_ID(M, local_qkey, "LocalQKey", 28, 32),
      IBCM_U(M, local_qpn, "LocalQPN", 32, 0, 24),
      IBCM_U(M, responder_resources, "ResponderResources", 35, 0, 8),
      IBCM_U(M, local_eecn, "LocalEECN", 36, 0, 24),
      IBCM_U(M, initiator_depth, "InitiatorDepth", 39, 0, 8),
      IBCM_U(M, remote_eecn, "RemoteEECN", 40, 0, 24),
      IBCM_U(M, remote_cm_response_timeout, "RemoteCMResponseTimeout", 43, 0, 5),
      IBCM_U(M, transport_service_type, "TransportServiceType", 43, 5, 2),
      IBCM_U(M, end_to_end_flow_control, "EndToEndFlowControl", 43, 7, 1),
      IBCM_U(M, starting_psn, "StartingPSN", 44, 0, 24),
      IBCM_U(M, local_cm_response_timeout, "LocalCMResponseTimeout", 47, 0, 5),
      IBCM_U(M, retry_count, "RetryCount", 47, 5, 3),
      IBCM_U(M, partition_key, "PartitionKey", 48, 0, 16),
      IBCM_U(M, path_mtu, "PathPacketPayloadMTU", 50, 0, 4),
      IBCM_U(M, rdc_exists, "RDCExists", 50, 4, 1),
      IBCM_U(M, rnr_retry_count, "RNRRetryCount", 50, 5, 3),
      IBCM_U(M, max_cm_retries, "MaxCMRetries", 51, 0, 4),
      IBCM_U(M, srq, "SRQ", 51, 4, 1),
      IBCM_U(M, extended_transport_type, "ExtendedTransportType", 51, 5, 3),
      IBCM_U(M, primary.local_lid, "PrimaryLocalPortLID", 52, 0, 16),
      IBCM_U(M, primary.remote_lid, "PrimaryRemotePortLID", 54, 0, 16),
      IBCM_BYTES(M, primary.local_gid, "PrimaryLocalPortGID", 56, Gid),
      IBCM_BYTES(M, primary.remote_gid, "PrimaryRemotePortGID", 72, Gid),
      IBCM_U(M, primary.flow_label, "PrimaryFlowLabel", 88, 0, 20),
      IBCM_U(M, primary.packet_rate, "PrimaryPacketRate", 91, 2, 6),
      IBCM_U(M, primary.traffic_class, "PrimaryTrafficClass", 92, 0, 8),
      IBCM_U(M, primary.hop_limit, "PrimaryHopLimit", 93, 0, 8),
      IBCM_U(M, primary.sl, "PrimarySL", 94, 0, 4),
      IBCM_U(M, primary.subnet_local, "PrimarySubnetLocal", 94, 4, 1),
      IBCM_U(M, primary.local_ack_timeout, "PrimaryLocalACKTimeout", 95, 0, 5),
      IBCM_U(M, alternate.local_lid, "AlternateLocalPortLID", 96, 0, 16),
      IBCM_U(M, alternate.remote_lid, "AlternateRemotePortLID", 98, 0, 16),
      IBCM_BYTES(M, alternate.local_gid, "AlternateLocalPortGID", 100, Gid),
      IBCM_BYTES(M, alternate.remote_gid, "AlternateRemotePortGID", 116, Gid),
      IBCM_U(M, alternate.flow_label, "AlternateFlowLabel", 132, 0, 20),
      IBCM_U(M, alternate.packet_rate, "AlternatePacketRate", 135, 2, 6),
      IBCM_U(M, alternate.traffic_class, "AlternateTrafficClass", 136, 0, 8),
      IBCM_U(M, alternate.hop_limit, "AlternateHopLimit", 137, 0, 8),
      IBCM_U(M, alternate.sl, "AlternateSL", 138, 0, 4),
      IBCM_U(M, alternate.subnet_local, "AlternateSubnetLocal", 138, 4, 1),
      IBCM_U(M, alternate.local_ack_timeout, "AlternateLocalACKTimeout", 139, 0, 5),
      IBCM_U(M, sap_supported, "SAPSupported", 139, 5, 1),
      IBCM_BYTES(M, private_data, "PrivateData", 140, Bytes),
  });
};

template <>
struct Schema<Mra> {
  static constexpr std::string_view name = "MRA";
  static constexpr AttrId attr = AttrId::Mra;
  static constexpr uint32_t region = kCmDataSize;
  using M = Mra;
  static constexpr auto fields = std::to_array<Field<M>>({
      IBCM_ID(M, local_comm_id, "LocalCommID", 0, 32),
      IBCM_ID(M, remote_comm_id, "RemoteCommID", 4, 32),
      IBCM_U(M, message_mraed, "MessageMRAed", 8, 0, 2),
      IBCM_U(M, service_timeout, "ServiceTimeout", 9, 0, 5),
      IBCM_BYTES(M, private_data, "PrivateData", 10, Bytes),
  });
};

template <>
struct Schema<Rej> {
  static constexpr std::string_view name = "REJ";
  static constexpr AttrId attr = AttrId::Rej;
  static constexpr uint32_t region = kCmDataSize;
  using M = Rej;
  static constexpr auto fields = std::to_array<Field<M>>({
      IBCM_ID(M, local_comm_id, "LocalCommID", 0, 32),
      IBCM_ID(M, remote_comm_id, "RemoteCommID", 4, 32),
      IBCM_U(M, message_rejected, "MessageRejected", 8, 0, 2),
      IBCM_U(M, rejected_info_length, "RejectedInfoLength", 9, 0, 7),
      IBCM_U(M, reason, "Reason", 10, 0, 16),
      IBCM_BYTES(M, ari, "ARI", 12, Bytes),
      IBCM_BYTES(M, private_data, "PrivateData", 84, Bytes),
  });
  static constexpr auto lengths = std::to_array<LengthOf>({{"RejectedInfoLength", "ARI"}});
};

template <>
struct Schema<Rep> {
  static constexpr std::string_view name = "REP";
  static constexpr AttrId attr = AttrId::Rep;
  static constexpr uint32_t region = kCmDataSize;
  using M = Rep;
  static constexpr auto fields = std::to_array<Field<M>>({
      IBCM_ID(M, local_comm_id, "LocalCommID", 0, 32),
      IBCM_ID(M, remote_comm_id, "RemoteCommID", 4, 32),
      IBCM_ID(M, local_qkey, "LocalQKey", 8, 32),
      IBCM_U(M, local_qpn, "LocalQPN", 12, 0, 24),
      IBCM_U(M, vendor_id_high, "VendorIDHigh", 15, 0, 8),
      IBCM_U(M, local_eecn, "LocalEECN", 16, 0, 24),
      IBCM_U(M, vendor_id_mid, "VendorIDMid", 19, 0, 8),
      IBCM_U(M, starting_psn, "StartingPSN", 20, 0, 24),
      IBCM_U(M, vendor_id_low, "VendorIDLow", 23, 0, 8),
      IBCM_U(M, responder_resources, "ResponderResources", 24, 0, 8),
      IBCM_U(M, initiator_depth, "InitiatorDepth", 25, 0, 8),
      IBCM_U(M, target_ack_delay, "TargetACKDelay", 26, 0, 5),
      IBCM_U(M, failover_accepted, "FailoverAccepted", 26, 5, 2),
      IBCM_U(M, end_to_end_flow_control, "EndToEndFlowControl", 26, 7, 1),
      IBCM_U(M, rnr_retry_count, "RNRRetryCount", 27, 0, 3),
      IBCM_U(M, srq, "SRQ", 27, 3, 1),
      IBCM_ID(M, local_ca_guid, "LocalCAGUID", 28, 64),
      IBCM_BYTES(M, private_data, "PrivateData", 36, Bytes),
  });
};

template <>
struct Schema<Rtu> {
  static constexpr std::string_view name = "RTU";
  static constexpr AttrId attr = AttrId::Rtu;
  static constexpr uint32_t region = kCmDataSize;
  using M = Rtu;
  static constexpr auto fields = std::to_array<Field<M>>({
      IBCM_ID(M, local_comm_id, "LocalCommID", 0, 32),
      IBCM_ID(M, remote_comm_id, "RemoteCommID", 4, 32),
      IBCM_BYTES(M, private_data, "PrivateData", 8, Bytes),
  });
};

template <>
struct Schema<Dreq> {
  static constexpr std::string_view name = "DREQ";
  static constexpr AttrId attr = AttrId::Dreq;
  static constexpr uint32_t region = kCmDataSize;
  using M = Dreq;
  static constexpr auto fields = std::to_array<Field<M>>({
      IBCM_ID(M, local_comm_id, "LocalCommID", 0, 32),
      IBCM_ID(M, remote_comm_id, "RemoteCommID", 4, 32),
      IBCM_U(M, remote_qpn, "RemoteQPN", 8, 0, 24),
      IBCM_BYTES(M, private_data, "PrivateData", 12, Bytes),
  });
};

template <>
struct Schema<Drep> {
  static constexpr std::string_view name = "DREP";
  static constexpr AttrId attr = AttrId::Drep;
  static constexpr uint32_t region = kCmDataSize;
  using M = Drep;
  static constexpr auto fields = std::to_array<Field<M>>({
      IBCM_ID(M, local_comm_id, "LocalCommID", 0, 32),
      IBCM_ID(M, remote_comm_id, "RemoteCommID", 4, 32),
      IBCM_BYTES(M, private_data, "PrivateData", 8, Bytes),
  });
};

template <>
struct Schema<SidrReq> {
  static constexpr std::string_view name = "SIDR_REQ";
  static constexpr AttrId attr = AttrId::SidrReq;
  static constexpr uint32_t region = kCmDataSize;
  using M = SidrReq;
  static constexpr auto fields = std::to_array<Field<M>>({
      IBCM_ID(M, request_id, "RequestID", 0, 32),
      IBCM_U(M, partition_key, "PartitionKey", 4, 0, 16),
      IBCM_ID(M, service_id, "ServiceID", 8, 64),
      IBCM_BYTES(M, private_data, "PrivateData", 16, Bytes),
  });
};

template <>
struct Schema<SidrRep> {
  static constexpr std::string_view name = "SIDR_REP";
  static constexpr AttrId attr = AttrId::SidrRep;
  static constexpr uint32_t region = kCmDataSize;
  using M = SidrRep;
  static constexpr auto fields = std::to_array<Field<M>>({
      IBCM_ID(M, request_id, "RequestID", 0, 32),
      IBCM_U(M, status, "Status", 4, 0, 8),
      IBCM_U(M, additional_information_length, "AdditionalInformationLength", 5, 0, 8),
      IBCM_U(M, qpn, "QPN", 8, 0, 24),
      IBCM_ID(M, service_id, "ServiceID", 12, 64),
      IBCM_ID(M, qkey, "QKey", 20, 32),
      IBCM_BYTES(M, additional_information, "AdditionalInformation", 24, Bytes),
      IBCM_BYTES(M, private_data, "PrivateData", 96, Bytes),
  });
  static constexpr auto lengths =
      std::to_array<LengthOf>({{"AdditionalInformationLength", "AdditionalInformation"}});
};

template <>
struct Schema<Lap> {
  static constexpr std::string_view name = "LAP";
  static constexpr AttrId attr = AttrId::Lap;
  static constexpr uint32_t region = kCmDataSize;
  using M = Lap;
  static constexpr auto fields = std::to_array<Field<M>>({
      IBCM_ID(M, local_comm_id, "LocalCommID", 0, 32),
      IBCM_ID(M, remote_comm_id, "RemoteCommID", 4, 32),
      IBCM_U(M, remote_qpn, "RemoteQPN", 12, 0, 24),
      IBCM_U(M, remote_cm_response_timeout, "RemoteCMResponseTimeout", 15, 0, 5),
      IBCM_U(M, alternate.local_lid, "AlternateLocalPortLID", 20, 0, 16),
      IBCM_U(M, alternate.remote_lid, "AlternateRemotePortLID", 22, 0, 16),
      IBCM_BYTES(M, alternate.local_gid, "AlternateLocalPortGID", 24, Gid),
      IBCM_BYTES(M, alternate.remote_gid, "AlternateRemotePortGID", 40, Gid),
      IBCM_U(M, alternate.flow_label, "AlternateFlowLabel", 56, 0, 20),
      IBCM_U(M, alternate.traffic_class, "AlternateTrafficClass", 59, 0, 8),
      IBCM_U(M, alternate.hop_limit, "AlternateHopLimit", 60, 0, 8),
      IBCM_U(M, alternate.packet_rate, "AlternatePacketRate", 61, 2, 6),
      IBCM_U(M, alternate.sl, "AlternateSL", 62, 0, 4),
      IBCM_U(M, alternate.subnet_local, "AlternateSubnetLocal", 62, 4, 1),
      IBCM_U(M, alternate.local_ack_timeout, "AlternateLocalACKTimeout", 63, 0, 5),
      IBCM_BYTES(M, private_data, "PrivateData", 64, Bytes),
  });
};

template <>
struct Schema<Apr> {
  static constexpr std::string_view name = "APR";
  static constexpr AttrId attr = AttrId::Apr;
  static constexpr uint32_t region = kCmDataSize;
  using M = Apr;
  static constexpr auto fields = std::to_array<Field<M>>({
      IBCM_ID(M, local_comm_id, "LocalCommID", 0, 32),
      IBCM_ID(M, remote_comm_id, "RemoteCommID", 4, 32),
      IBCM_U(M, additional_information_length, "AdditionalInformationLength", 8, 0, 8),
      IBCM_U(M, ap_status, "APStatus", 9, 0, 8),
      IBCM_BYTES(M, additional_information, "AdditionalInformation", 12, Bytes),
      IBCM_BYTES(M, private_data, "PrivateData", 84, Bytes),
  });
  static constexpr auto lengths =
      std::to_array<LengthOf>({{"AdditionalInformationLength", "AdditionalInformation"}});
};

template <>
struct Schema<ClassPortInfo> {
  static constexpr std::string_view name = "ClassPortInfo";
  static constexpr AttrId attr = AttrId::ClassPortInfo;
  static constexpr uint32_t region = kCmDataSize;
  using M = ClassPortInfo;
  static constexpr auto fields = std::to_array<Field<M>>({
      IBCM_U(M, base_version, "BaseVersion", 0, 0, 8),
      IBCM_U(M, class_version, "ClassVersion", 1, 0, 8),
      IBCM_U(M, capability_mask, "CapabilityMask", 2, 0, 16),
      IBCM_U(M, capability_mask2, "CapabilityMask2", 4, 0, 27),
      IBCM_U(M, resp_time_value, "RespTimeValue", 7, 3, 5),
      IBCM_BYTES(M, redirect_gid, "RedirectGID", 8, Gid),
      IBCM_U(M, redirect_tc, "RedirectTC", 24, 0, 8),
      IBCM_U(M, redirect_sl, "RedirectSL", 25, 0, 4),
      IBCM_U(M, redirect_fl, "RedirectFL", 25, 4, 20),
      IBCM_U(M, redirect_lid, "RedirectLID", 28, 0, 16),
      IBCM_U(M, redirect_pkey, "RedirectPKey", 30, 0, 16),
      IBCM_U(M, redirect_qp, "RedirectQP", 33, 0, 24),
      IBCM_ID(M, redirect_qkey, "RedirectQKey", 36, 32),
      IBCM_BYTES(M, trap_gid, "TrapGID", 40, Gid),
      IBCM_U(M, trap_tc, "TrapTC", 56, 0, 8),
      IBCM_U(M, trap_sl, "TrapSL", 57, 0, 4),
      IBCM_U(M, trap_fl, "TrapFL", 57, 4, 20),
      IBCM_U(M, trap_lid, "TrapLID", 60, 0, 16),
      IBCM_U(M, trap_pkey, "TrapPKey", 62, 0, 16),
      IBCM_U(M, trap_hl, "TrapHL", 64, 0, 8),
      IBCM_U(M, trap_qp, "TrapQP", 65, 0, 24),
      IBCM_ID(M, trap_qkey, "TrapQKey", 68, 32),
  });
};

/// The index in Schema<M>::fields of the field with this name, or fields.size() if there is none.
template <class M>
constexpr size_t field_index(std::string_view name) {
  size_t i = 0;
  while (i < Schema<M>::fields.size() && Schema<M>::fields[i].name != name) ++i;
  return i;
}

/// The schema field of M with this name, or nullptr.
template <class M>
constexpr const Field<M>* field_named(std::string_view name) {
  const size_t i = field_index<M>(name);
  return i < Schema<M>::fields.size() ? &Schema<M>::fields[i] : nullptr;
}

/// Schema<M>::lengths, or none.
template <class M>
constexpr std::span<const LengthOf> length_fields() {
  if constexpr (requires { Schema<M>::lengths; })
    return Schema<M>::lengths;
  else
    return {};
}

/// A length field resolved at compile time: its index in Schema<M>::fields and the largest count
/// it may hold (the size of the byte field it counts).
struct LengthRule {
  size_t field;
  uint64_t max;
};
template <class M>
inline constexpr auto kLengthRules = [] {
  constexpr auto lengths = length_fields<M>();
  std::array<LengthRule, lengths.size()> out{};
  for (size_t i = 0; i < lengths.size(); ++i) {
    const size_t count = field_index<M>(lengths[i].count), bytes = field_index<M>(lengths[i].bytes);
    // Names that are not a number field and a byte field of the table make this not a constant.
    if (count >= Schema<M>::fields.size() || !Schema<M>::fields[count].is_number() ||
        bytes >= Schema<M>::fields.size() || Schema<M>::fields[bytes].is_number())
      throw "a length field names no number field or no byte field of its table";
    out[i] = {count, Schema<M>::fields[bytes].width / 8u};
  }
  return out;
}();

/// Whether every length field of the message is within the byte field it counts (what decode()
/// checks for LengthField).
template <class M>
constexpr bool lengths_in_range(const M& m) {
  for (const auto& r : kLengthRules<M>)
    if (Schema<M>::fields[r.field].get(m) > r.max) return false;
  return true;
}
inline bool lengths_in_range(const Message& m) {
  return std::visit([](const auto& x) { return lengths_in_range(x); }, m);
}

template <class M>
inline constexpr bool kLayoutOk = layout_ok(Schema<M>::fields, Schema<M>::region);

static_assert(kLayoutOk<MadHeader> && kLayoutOk<Req> && kLayoutOk<Mra> && kLayoutOk<Rej> &&
                  kLayoutOk<Rep> && kLayoutOk<Rtu> && kLayoutOk<Dreq> && kLayoutOk<Drep> &&
                  kLayoutOk<SidrReq> && kLayoutOk<SidrRep> && kLayoutOk<Lap> && kLayoutOk<Apr> &&
                  kLayoutOk<ClassPortInfo>,
              "a CM field table overlaps or leaves its region");

}  // namespace ibcm::wire

IBCM_API_END
