/// @file
/// RoCEv2 framing of CM MADs: [Ethernet /] IPv4 or IPv6 / UDP 4791 / BTH / DETH / MAD / ICRC.
/// The ICRC is the zlib CRC-32 over 8 bytes of 0xFF, the IP, UDP and BTH headers with their
/// variant fields set to ones, DETH and payload; it is stored little-endian (docs/wire.md; how the
/// transports use it: docs/transports.md).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "ibcm/api.h"
#include "ibcm/result.h"
#include "ibcm/wire/types.h"

IBCM_API_BEGIN

namespace ibcm::wire::roce {

constexpr uint16_t kUdpPort = 4791;
constexpr uint32_t kGsiQkey = 0x80010000;
constexpr uint8_t kOpUdSendOnly = 0x64;
constexpr size_t kBthSize = 12;
constexpr size_t kDethSize = 8;
constexpr size_t kIcrcSize = 4;
constexpr size_t kEthernetSize = 14;
/// The largest frame build_* can produce for a 256-byte MAD (Ethernet + IPv6).
constexpr size_t kMaxFrameSize =
    kEthernetSize + 40 + 8 + kBthSize + kDethSize + kMadSize + kIcrcSize;

struct Bth {
  uint8_t opcode = kOpUdSendOnly;
  bool solicited = false;
  bool mig_req = false;
  uint8_t pad_count = 0;  ///< parse reports it; build derives it from the payload length
  uint8_t tver = 0;
  uint16_t pkey = 0xFFFF;
  bool fecn = false;
  bool becn = false;
  uint32_t dest_qp = 1;  ///< 24 bits
  bool ack_req = true;
  uint32_t psn = 0;  ///< 24 bits
};

struct Deth {
  uint32_t qkey = kGsiQkey;
  uint32_t src_qp = 1;  ///< 24 bits
};

/// One RoCEv2 datagram. GIDs that are IPv4-mapped (\::ffff:a.b.c.d) on both sides make IPv4.
struct Datagram {
  Gid src_gid{};
  Gid dst_gid{};
  uint16_t src_port = kUdpPort;  ///< UDP source port (any)
  uint16_t dst_port = kUdpPort;
  uint8_t traffic_class = 0;  ///< IPv4 TOS / IPv6 traffic class
  uint32_t flow_label = 0;    ///< IPv6 only, 20 bits
  uint8_t hop_limit = 64;     ///< TTL / hop limit
  uint16_t ip_id = 0;         ///< IPv4 Identification (covered by the ICRC)
  Bth bth;
  Deth deth;
  std::span<const uint8_t> payload;  ///< the MAD (256 bytes for CM)
};

enum class ParseError : uint8_t {
  Truncated,  ///< shorter than its headers say
  NotIp,      ///< Ethernet type / IP version is neither IPv4 nor IPv6
  NotUdp,     ///< IP protocol / next header is not UDP, or IPv4 options/fragments
  NotRoce,    ///< UDP destination port is not 4791
  BadLength,  ///< IP or UDP length fields disagree with the buffer
  NotUd,      ///< BTH opcode is not UD SEND only (no DETH follows)
};
std::string_view to_string(ParseError e);

struct Parsed {
  Datagram dgram;     ///< payload points into the parsed buffer
  uint32_t icrc = 0;  ///< as received
  uint32_t icrc_computed = 0;
  bool icrc_ok = false;
};

/// The ICRC of an IP packet (from the IP header up to, not including, the ICRC). Returns 0 when
/// the bytes cannot hold an IPv4/IPv6, UDP and BTH header.
uint32_t icrc(std::span<const uint8_t> ip_packet);

/// Builds the IP packet (IPv4 or IPv6), including the ICRC; returns its length, or 0 if `out` is
/// too small or the packet would exceed 65535 bytes. The IPv4 header checksum and UDP length are
/// filled in; the UDP checksum is 0; IPv4 has Don't Fragment set, as Linux sends it.
size_t build_ip_packet(const Datagram& d, std::span<uint8_t> out);
/// Same, behind a 14-byte Ethernet header (MACs derived from the IPs; locally administered).
size_t build_ethernet_frame(const Datagram& d, std::span<uint8_t> out);

/// Safe on any input. Bytes after the IP packet's own length (Ethernet padding, FCS) are ignored.
Expected<Parsed, ParseError> parse_ip_packet(std::span<const uint8_t> packet);
/// Accepts one 802.1Q tag.
Expected<Parsed, ParseError> parse_ethernet_frame(std::span<const uint8_t> frame);

/// IPv4-mapped GID for an IPv4 address given in network byte order as 4 bytes.
Gid ipv4_mapped_gid(const uint8_t addr[4]);
bool is_ipv4_mapped(const Gid& gid);

}  // namespace ibcm::wire::roce

IBCM_API_END
