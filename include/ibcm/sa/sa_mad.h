/// @file
/// The Subnet Administration MAD (IBTA Vol 1, 15.2.1): the MAD common header, the RMPP header and
/// the SA header (SM_Key, AttributeOffset, ComponentMask) before 200 bytes of SA data. Driven by
/// field tables like the CM codec (wire/schema.h): bytes 0..23 are Schema<MadHeader>'s, 24..55
/// Schema<SaHeader>'s. Any input is safe to decode.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "ibcm/api.h"
#include "ibcm/wire/field.h"
#include "ibcm/wire/mad.h"
#include "ibcm/wire/schema.h"

IBCM_API_BEGIN

namespace ibcm::sa {

inline constexpr uint8_t kSaClass = 0x03;  ///< SubnAdm
inline constexpr uint8_t kSaClassVersion = 2;
inline constexpr size_t kSaHeaderSize = 56;                            ///< MAD 24 + RMPP 12 + SA 20
inline constexpr size_t kSaDataSize = wire::kMadSize - kSaHeaderSize;  ///< 200
/// The RMPP header (12 bytes) and the SA header fields after it: PayloadLength counts SA data from
/// here (15.2.1.1: the 20 bytes of SM_Key, AttributeOffset, Reserved, ComponentMask and the data).
inline constexpr size_t kRmppEnd = 36;
inline constexpr size_t kSaFieldsSize = kSaHeaderSize - kRmppEnd;  ///< 20
/// The SA is reached at the SM's LID on QP1 with the GSI Q_Key (15.2.5.1, 13.5.3).
inline constexpr uint32_t kGsiQkey = 0x80010000;

enum class SaMethod : uint8_t {
  Get = 0x01,           ///< SubnAdmGet: one record
  GetResp = 0x81,       ///< SubnAdmGetResp
  GetTable = 0x12,      ///< SubnAdmGetTable: every matching record
  GetTableResp = 0x92,  ///< SubnAdmGetTableResp (RMPP)
};

/// The SA's class-specific status (15.2.1.2, MAD Status bits 8..15 — the upper byte).
enum class SaStatus : uint8_t {
  Success = 0,
  NoResources = 1,                ///< ERR_NO_RESOURCES
  ReqInvalid = 2,                 ///< ERR_REQ_INVALID
  NoRecords = 3,                  ///< ERR_NO_RECORDS
  TooManyRecords = 4,             ///< ERR_TOO_MANY_RECORDS
  ReqInvalidGid = 5,              ///< ERR_REQ_INVALID_GID
  ReqInsufficientComponents = 6,  ///< ERR_REQ_INSUFFICIENT_COMPONENTS
  ReqDenied = 7,                  ///< ERR_REQ_DENIED
};
/// The spec's name ("ERR_NO_RECORDS"), or "" for a code it does not name.
std::string_view to_string(SaStatus s);

/// MAD Status, common part (13.4.7, the lower byte): Busy, Redirect and the invalid-field code.
inline constexpr uint16_t kMadStatusBusy = 0x0001;
inline constexpr uint16_t kMadStatusRedirect = 0x0002;
inline constexpr uint16_t kMadStatusCommonMask = 0x00FF;
constexpr SaStatus sa_status_of(uint16_t mad_status) {
  return static_cast<SaStatus>(mad_status >> 8);
}
constexpr uint16_t mad_status_of(SaStatus s) {
  return static_cast<uint16_t>(static_cast<uint16_t>(s) << 8);
}

/// RMPP (13.6.2.1): types and flags, as a GetTableResp carries them.
enum class RmppType : uint8_t { None = 0, Data = 1, Ack = 2, Stop = 3, Abort = 4 };
inline constexpr uint8_t kRmppActive = 0x1;
inline constexpr uint8_t kRmppFirst = 0x2;
inline constexpr uint8_t kRmppLast = 0x4;

/// The common header of an SA request: class SubnAdm, version 2, SubnAdmGet.
constexpr wire::MadHeader sa_request_header() {
  wire::MadHeader h;
  h.mgmt_class = kSaClass;
  h.class_version = kSaClassVersion;
  h.method = static_cast<uint8_t>(SaMethod::Get);
  return h;
}

struct SaHeader {
  wire::MadHeader mad = sa_request_header();
  uint8_t rmpp_version = 0;
  uint8_t rmpp_type = 0;
  uint8_t rmpp_resp_time = 0;  ///< 5 bits
  uint8_t rmpp_flags = 0;      ///< 3 bits: Active, First, Last
  uint8_t rmpp_status = 0;
  uint32_t segment_number = 0;  ///< RMPP Data1 of a DATA packet
  uint32_t payload_length = 0;  ///< RMPP Data2 of a DATA packet
  uint64_t sm_key = 0;
  uint16_t attribute_offset = 0;  ///< in 8-byte words: the stride of records in the data
  uint64_t component_mask = 0;
  bool operator==(const SaHeader&) const = default;
};

enum class SaDecodeError : uint8_t {
  ShortBuffer,   ///< fewer than 256 bytes
  LongBuffer,    ///< more than 256 bytes (an RMPP transfer reassembled: not asked for)
  BaseVersion,   ///< BaseVersion != 1
  MgmtClass,     ///< not the SA class (0x03)
  ClassVersion,  ///< ClassVersion != 2
};
std::string_view to_string(SaDecodeError e);

/// Writes bytes 0..55 of out (the rest is the caller's).
void encode_header(const SaHeader& h, std::span<uint8_t, wire::kMadSize> out);
/// Reads a whole SA MAD's header: nullopt when it is one, else why not (out as far as read).
std::optional<SaDecodeError> decode_header(std::span<const uint8_t> in, SaHeader& out);

}  // namespace ibcm::sa

namespace ibcm::wire {

template <>
struct Schema<sa::SaHeader> {
  static constexpr std::string_view name = "SA";
  static constexpr uint32_t region = sa::kSaHeaderSize;
  using M = sa::SaHeader;
  /// Offsets in the MAD, after the common header (Schema<MadHeader>, bytes 0..23).
  static constexpr auto fields = std::to_array<Field<M>>({
      IBCM_U(M, rmpp_version, "RMPPVersion", 24, 0, 8),
      IBCM_U(M, rmpp_type, "RMPPType", 25, 0, 8),
      IBCM_U(M, rmpp_resp_time, "RRespTime", 26, 0, 5),
      IBCM_U(M, rmpp_flags, "RMPPFlags", 26, 5, 3),
      IBCM_U(M, rmpp_status, "RMPPStatus", 27, 0, 8),
      IBCM_U(M, segment_number, "SegmentNumber", 28, 0, 32),
      IBCM_U(M, payload_length, "PayloadLength", 32, 0, 32),
      IBCM_ID(M, sm_key, "SM_Key", 36, 64),
      IBCM_U(M, attribute_offset, "AttributeOffset", 44, 0, 16),
      IBCM_ID(M, component_mask, "ComponentMask", 48, 64),
  });
};
static_assert(kLayoutOk<sa::SaHeader>, "the SA header table overlaps or leaves its region");
static_assert(Schema<sa::SaHeader>::fields.front().byte == kMadHeaderSize &&
                  Schema<sa::SaHeader>::fields.back().end_bit() == sa::kSaHeaderSize * 8,
              "the SA header table starts after the MAD header and ends at the SA data");

}  // namespace ibcm::wire

IBCM_API_END
