/// @file
/// Coded values of the CM wire format (IBTA Vol 1 ch. 12, see docs/wire.md).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "ibcm/api.h"

IBCM_API_BEGIN

namespace ibcm::wire {

using Gid = std::array<uint8_t, 16>;
/// a == b for GIDs as two 8-byte compares: std::array's == calls memcmp, on every MAD's source.
inline bool same_gid(const Gid& a, const Gid& b) {
  uint64_t a0, a1, b0, b1;
  std::memcpy(&a0, a.data(), 8);
  std::memcpy(&a1, a.data() + 8, 8);
  std::memcpy(&b0, b.data(), 8);
  std::memcpy(&b1, b.data() + 8, 8);
  return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

constexpr size_t kMadSize = 256;
constexpr size_t kMadHeaderSize = 24;
constexpr size_t kCmDataSize = kMadSize - kMadHeaderSize;  ///< 232
constexpr size_t kAriSize = 72;

constexpr uint8_t kBaseVersion = 1;
constexpr uint8_t kCmClass = 0x07;
constexpr uint8_t kCmClassVersion = 2;

enum class Method : uint8_t {
  Get = 0x01,
  Set = 0x02,
  Send = 0x03,
  GetResp = 0x81,
};

/// MAD status (common header): bits 2..4 carry the "invalid field" code.
enum class MadStatus : uint16_t {
  Ok = 0,
  Busy = 0x0001,
  BadVersion = 0x0004,             ///< class version not supported
  UnsupportedMethod = 0x0008,      ///< method not supported
  UnsupportedMethodAttr = 0x000C,  ///< method/attribute combination not supported
  InvalidAttrValue = 0x001C,       ///< invalid value in attribute or modifier
};

enum class AttrId : uint16_t {
  ClassPortInfo = 0x0001,
  Req = 0x0010,
  Mra = 0x0011,
  Rej = 0x0012,
  Rep = 0x0013,
  Rtu = 0x0014,
  Dreq = 0x0015,
  Drep = 0x0016,
  SidrReq = 0x0017,
  SidrRep = 0x0018,
  Lap = 0x0019,
  Apr = 0x001A,
};

enum class TransportType : uint8_t { RC = 0, UC = 1, RD = 2, Extended = 3 };
enum class ExtendedTransport : uint8_t { None = 0, XRC = 1 };

enum class Mtu : uint8_t {
  None = 0,
  Mtu256 = 1,
  Mtu512 = 2,
  Mtu1024 = 3,
  Mtu2048 = 4,
  Mtu4096 = 5
};

/// MessageMRAed / MessageRejected.
enum class MsgRef : uint8_t { Req = 0, Rep = 1, Other = 2 };

enum class RejReason : uint16_t {
  NoQp = 1,
  NoEec = 2,
  NoResources = 3,
  Timeout = 4,
  Unsupported = 5,
  InvalidCommId = 6,
  InvalidCommInstance = 7,
  InvalidServiceId = 8,
  InvalidTransportType = 9,
  StaleConnection = 10,
  RdcNotExist = 11,
  InvalidGid = 12,
  InvalidLid = 13,
  InvalidSl = 14,
  InvalidTrafficClass = 15,
  InvalidHopLimit = 16,
  InvalidPacketRate = 17,
  InvalidAltGid = 18,
  InvalidAltLid = 19,
  InvalidAltSl = 20,
  InvalidAltTrafficClass = 21,
  InvalidAltHopLimit = 22,
  InvalidAltPacketRate = 23,
  PortCmRedirect = 24,
  PortRedirect = 25,
  InvalidMtu = 26,
  InsufficientRespResources = 27,
  ConsumerDefined = 28,
  InvalidRnrRetry = 29,
  DuplicateLocalCommId = 30,
  InvalidClassVersion = 31,
  InvalidFlowLabel = 32,
  InvalidAltFlowLabel = 33,
  VendorOptionNotSupported = 35,
};

enum class SidrStatus : uint8_t {
  Success = 0,
  ServiceIdNotSupported = 1,
  Rejected = 2,
  NoQp = 3,
  Redirect = 4,
  UnsupportedClassVersion = 5,
};

enum class ApStatus : uint8_t {
  Success = 0,
  InvalidCommId = 1,
  Unsupported = 2,
  Rejected = 3,
  Redirect = 4,
  PathIsCurrent = 5,
  InvalidQpn = 6,
  InvalidLid = 7,
  InvalidGid = 8,
  InvalidFlowLabel = 9,
  InvalidTrafficClass = 10,
  InvalidHopLimit = 11,
  InvalidPacketRate = 12,
  InvalidSl = 13,
};

std::string_view to_string(AttrId a);
std::string_view to_string(RejReason r);
std::string_view to_string(SidrStatus s);
std::string_view to_string(ApStatus s);
std::string_view to_string(TransportType t);
std::string_view to_string(MsgRef m);

}  // namespace ibcm::wire

IBCM_API_END
