/// @file
/// Conventions of the Linux rdma_cm (librdmacm) on top of the CM: IP-based service IDs and the
/// 36-byte private-data header carried in REQ and SIDR_REQ.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "ibcm/api.h"
#include "ibcm/result.h"

IBCM_API_BEGIN

namespace ibcm::wire::rdma_cm {

enum class PortSpace : uint16_t { IPoIB = 0x0002, TCP = 0x0106, UDP = 0x0111, IB = 0x013F };

/// (port space << 16) | port.
constexpr uint64_t service_id(PortSpace ps, uint16_t port) {
  return (uint64_t{static_cast<uint16_t>(ps)} << 16) | port;
}

struct IpService {
  PortSpace space;
  uint16_t port;
};
/// The port space and port of an IP-based service ID, if it is one.
std::optional<IpService> parse_service_id(uint64_t sid);

/// The Q_Key of rdma_cm's UDP port space (librdmacm's RDMA_UDP_QKEY): its UD QPs take it, and its
/// SIDR_REP names it.
constexpr uint32_t kUdpQkey = 0x01234567;

constexpr size_t kHeaderSize = 36;
constexpr size_t kMaxReqUserData = 92 - kHeaderSize;       ///< 56
constexpr size_t kMaxSidrReqUserData = 216 - kHeaderSize;  ///< 180

struct Header {
  uint8_t version = 0;
  uint8_t ip_version = 4;              ///< 4 or 6, high nibble of byte 1
  uint16_t src_port = 0;               ///< the active side's port
  std::array<uint8_t, 16> src_addr{};  ///< IPv4: last 4 bytes, first 12 zero
  std::array<uint8_t, 16> dst_addr{};
  bool operator==(const Header&) const = default;
};

enum class HeaderError : uint8_t { Short, BadVersion, BadIpVersion, BadIpv4Padding };
std::string_view to_string(HeaderError e);

void encode_header(const Header& h, std::span<uint8_t, kHeaderSize> out);
/// Checks what Linux's passive rdma_cm checks: version 0 and IP version 4 or 6 (the low nibble of
/// byte 1 is reserved and ignored). Stricter than Linux, it also wants an IPv4 header's 12 padding
/// bytes zero: Linux does not look at them, but always sends zeros (as the REQ in tests/vectors
/// shows), so non-zero padding means the bytes are not an rdma_cm header.
Expected<Header, HeaderError> decode_header(std::span<const uint8_t> private_data);

}  // namespace ibcm::wire::rdma_cm

IBCM_API_END
