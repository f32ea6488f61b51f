/// @file
/// The SA PathRecord (IBTA Vol 1, 15.2.5.16, attribute 0x0035): the 64-byte record as a typed
/// struct and one field table, the ComponentMask bits that say which fields of a query count, the
/// SubnAdmGet request that asks for one path, and the records of an answer. A resolved record
/// becomes what a REQ's primary path needs (wire::PathInfo, MTU, P_Key, packet lifetime).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/engine/params.h"
#include "ibcm/result.h"
#include "ibcm/sa/sa_mad.h"

IBCM_API_BEGIN

namespace ibcm::sa {

inline constexpr uint16_t kPathRecordAttr = 0x0035;
inline constexpr size_t kPathRecordSize = 64;

/// Selector of MTU, Rate and PacketLifeTime (15.2.5.16): how the value compares in a query; an
/// answer from OpenSM says Exactly.
enum class Selector : uint8_t { GreaterThan = 0, LessThan = 1, Exactly = 2, Best = 3 };

struct PathRecord {
  uint64_t service_id = 0;
  wire::Gid dgid{};
  wire::Gid sgid{};
  uint16_t dlid = 0;
  uint16_t slid = 0;
  bool raw_traffic = false;
  uint32_t flow_label = 0;  ///< 20 bits
  uint8_t hop_limit = 0;
  uint8_t traffic_class = 0;
  bool reversible = false;
  uint8_t numb_path = 0;  ///< 7 bits
  uint16_t pkey = 0;
  uint16_t qos_class = 0;  ///< 12 bits
  uint8_t sl = 0;          ///< 4 bits
  uint8_t mtu_selector = 0;
  uint8_t mtu = 0;  ///< 6 bits: the REQ's PathPacketPayloadMTU code (wire::Mtu)
  uint8_t rate_selector = 0;
  uint8_t rate = 0;  ///< 6 bits: the REQ's PacketRate code
  uint8_t packet_life_time_selector = 0;
  uint8_t packet_life_time = 0;  ///< 6 bits: 4.096 us * 2^value
  uint8_t preference = 0;
  bool operator==(const PathRecord&) const = default;
};

/// ComponentMask bits of a PathRecord query (15.2.5.16): bit i says field i takes part. ServiceID
/// is two components (ServiceID8MSB and ServiceID56LSB); bit 7 is reserved.
namespace path_mask {
inline constexpr uint64_t kServiceId = 0x3;
inline constexpr uint64_t kDgid = 1u << 2;
inline constexpr uint64_t kSgid = 1u << 3;
inline constexpr uint64_t kDlid = 1u << 4;
inline constexpr uint64_t kSlid = 1u << 5;
inline constexpr uint64_t kRawTraffic = 1u << 6;
inline constexpr uint64_t kFlowLabel = 1u << 8;
inline constexpr uint64_t kHopLimit = 1u << 9;
inline constexpr uint64_t kTClass = 1u << 10;
inline constexpr uint64_t kReversible = 1u << 11;
inline constexpr uint64_t kNumbPath = 1u << 12;
inline constexpr uint64_t kPKey = 1u << 13;
inline constexpr uint64_t kQosClass = 1u << 14;
inline constexpr uint64_t kSl = 1u << 15;
inline constexpr uint64_t kMtuSelector = 1u << 16;
inline constexpr uint64_t kMtu = 1u << 17;
inline constexpr uint64_t kRateSelector = 1u << 18;
inline constexpr uint64_t kRate = 1u << 19;
inline constexpr uint64_t kPacketLifeTimeSelector = 1u << 20;
inline constexpr uint64_t kPacketLifeTime = 1u << 21;
inline constexpr uint64_t kPreference = 1u << 22;
}  // namespace path_mask

void encode(const PathRecord& r, std::span<uint8_t, kPathRecordSize> out);
PathRecord decode_path_record(std::span<const uint8_t, kPathRecordSize> in);

/// What to ask the SA for: the path from our port (SGID) to the peer's (DGID) in a partition, as
/// Linux's rdma_cm asks it (cma_query_ib_route): one path, reversible (the peer answers over it).
struct PathRequest {
  wire::Gid sgid{};
  wire::Gid dgid{};
  uint16_t pkey = 0xFFFF;
  std::optional<uint64_t> service_id;  ///< the CM service ID the path is for (QoS policies use it)
  /// rdma_cm asks with the ID's type of service as QoSClass for IPv4, and with the source
  /// address's traffic class (sin6_flowinfo >> 20) as TClass for IPv6.
  std::optional<uint16_t> qos_class;
  std::optional<uint8_t> traffic_class;
  bool reversible = true;
};
/// SGID | DGID | P_Key | NumbPath | Reversible, and ServiceID, QoSClass and TClass when the
/// request has them.
uint64_t component_mask(const PathRequest& r);
/// The SubnAdmGet(PathRecord) MAD for the request, with this TID (the kernel's MAD layer replaces
/// its upper 32 bits with the agent's).
wire::MadBytes encode_path_get(const PathRequest& r, uint64_t tid);

enum class RecordsError : uint8_t {
  Header,           ///< not an SA MAD (decode_header's error)
  NotPathRecord,    ///< AttributeID is not PathRecord
  NotAResponse,     ///< the method is not GetResp or GetTableResp
  Status,           ///< the MAD status is not 0: there are no records to read
  Segmented,        ///< a GetTableResp that is not one whole RMPP segment (First and Last)
  AttributeOffset,  ///< records closer together than 64 bytes
  PayloadLength,    ///< PayloadLength counts more than one segment holds or less than the header
};
std::string_view to_string(RecordsError e);

/// The records of a PathRecord answer with status 0: the one record of a GetResp, or every record
/// of a single-segment GetTableResp (PayloadLength - 20 bytes, AttributeOffset * 8 apart).
Expected<std::vector<PathRecord>, RecordsError> decode_path_records(std::span<const uint8_t> mad);

/// A path as a REQ's primary path needs it, from the requester's side (local = SGID, SLID).
struct ResolvedPath {
  wire::PathInfo path;
  wire::Mtu mtu = wire::Mtu::None;
  uint16_t pkey = 0xFFFF;
  uint8_t packet_life_time = 0;
  PathRecord record;  ///< as the SA answered it
  bool operator==(const ResolvedPath&) const = default;
};
/// nullopt when the record's MTU is no MTU a REQ can carry (not 256..4096). SubnetLocal is set
/// when HopLimit <= 1, as Linux's CM does; the local ACK timeout is 2 x PacketLifeTime (the
/// exponent + 1), the engine's default for a path without one.
std::optional<ResolvedPath> resolve(const PathRecord& r);
/// Puts the path into the REQ's parameters: primary path, MTU, P_Key and packet lifetime.
void apply(const ResolvedPath& p, ConnectParams& params);

}  // namespace ibcm::sa

namespace ibcm::wire {

template <>
struct Schema<sa::PathRecord> {
  static constexpr std::string_view name = "PathRecord";
  static constexpr uint32_t region = sa::kPathRecordSize;
  using M = sa::PathRecord;
  /// Offsets in the record (the SA data); bytes 58..63 are reserved.
  static constexpr auto fields = std::to_array<Field<M>>({
      IBCM_ID(M, service_id, "ServiceID", 0, 64),
      IBCM_BYTES(M, dgid, "DGID", 8, Gid),
      IBCM_BYTES(M, sgid, "SGID", 24, Gid),
      IBCM_U(M, dlid, "DLID", 40, 0, 16),
      IBCM_U(M, slid, "SLID", 42, 0, 16),
      IBCM_U(M, raw_traffic, "RawTraffic", 44, 0, 1),
      IBCM_U(M, flow_label, "FlowLabel", 44, 4, 20),
      IBCM_U(M, hop_limit, "HopLimit", 47, 0, 8),
      IBCM_U(M, traffic_class, "TClass", 48, 0, 8),
      IBCM_U(M, reversible, "Reversible", 49, 0, 1),
      IBCM_U(M, numb_path, "NumbPath", 49, 1, 7),
      IBCM_U(M, pkey, "P_Key", 50, 0, 16),
      IBCM_U(M, qos_class, "QoSClass", 52, 0, 12),
      IBCM_U(M, sl, "SL", 53, 4, 4),
      IBCM_U(M, mtu_selector, "MTUSelector", 54, 0, 2),
      IBCM_U(M, mtu, "MTU", 54, 2, 6),
      IBCM_U(M, rate_selector, "RateSelector", 55, 0, 2),
      IBCM_U(M, rate, "Rate", 55, 2, 6),
      IBCM_U(M, packet_life_time_selector, "PacketLifeTimeSelector", 56, 0, 2),
      IBCM_U(M, packet_life_time, "PacketLifeTime", 56, 2, 6),
      IBCM_U(M, preference, "Preference", 57, 0, 8),
  });
};
static_assert(kLayoutOk<sa::PathRecord>, "the PathRecord table overlaps or leaves its 64 bytes");

}  // namespace ibcm::wire

IBCM_API_END
