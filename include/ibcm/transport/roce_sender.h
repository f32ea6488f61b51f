/// @file
/// The sending half of RoCEv2: a CM MAD in a UD SEND packet from QP 1 to QP 1 (GSI Q_Key), with
/// its ICRC, through the kernel's IP stack. RoceTransport sends with it, and so does the umad
/// transport on a RoCEv2 port (docs/transports.md, "Sending on RoCEv2").
///
/// IPv4: the ICRC covers the IPv4 Identification field, so the packet goes whole through a raw
/// socket (IP_HDRINCL; root or CAP_NET_RAW). IPv6: every header field the kernel picks is masked
/// in the ICRC, so a UDP socket sends what follows the UDP header.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "ibcm/api.h"
#include "ibcm/result.h"
#include "ibcm/transport/ip_address.h"

IBCM_API_BEGIN

namespace ibcm {

/// The GRH fields of one packet (IPv4 TOS and TTL, or IPv6 traffic class and hop limit).
struct RocePath {
  uint8_t hop_limit = 64;
  uint8_t traffic_class = 0;
};

class RoceSender {
 public:
  /// From `local` (its address is the source GID; IPv6: its port the UDP source port, 0 for one
  /// the kernel picks), in partition `pkey`, on `interface` if not empty (else by route).
  static Expected<std::unique_ptr<RoceSender>, std::string> open(const IpEndpoint& local,
                                                                 uint16_t pkey,
                                                                 const std::string& interface);
  /// IPv6 over a bound UDP socket the caller owns (RoceTransport's, which also receives on it).
  static std::unique_ptr<RoceSender> over_udp_socket(int fd, const IpEndpoint& bound,
                                                     uint16_t pkey);
  ~RoceSender();
  RoceSender(const RoceSender&) = delete;
  RoceSender& operator=(const RoceSender&) = delete;

  /// The MAD to QP 1 of the peer at `to` (RoCEv2's port 4791, or `to`'s port if it has one:
  /// IPv6 tests). 0, or the errno of the send.
  int send(const IpEndpoint& to, std::span<const uint8_t> mad, const RocePath& path = {});

 private:
  RoceSender() = default;
  IpEndpoint local_;
  uint16_t pkey_ = 0xFFFF;
  bool v4_ = true;
  int fd_ = -1;
  bool owns_fd_ = false;
  uint16_t ip_id_ = 1;
  uint32_t psn_ = 0;
};

}  // namespace ibcm

IBCM_API_END
