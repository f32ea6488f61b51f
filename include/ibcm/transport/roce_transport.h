/// @file
/// RoCEv2: CM MADs in UD SEND packets to and from QP 1 over UDP port 4791, with a correct ICRC.
///
/// IPv4: the ICRC covers the IPv4 Identification field, so we send through a raw socket with a
/// header we build (IP_HDRINCL; needs root or CAP_NET_RAW) and receive through a raw UDP socket
/// that shows us the whole IP header. IPv6: every header field the kernel picks is masked in the
/// ICRC, so an ordinary UDP socket on port 4791 does both directions, unprivileged. Received
/// packets must be UD SEND only from and to QP 1 with the GSI Q_Key, our P_Key and a good ICRC;
/// everything else (a peer's RC data to a QP we only connected, say) is counted and dropped.
#pragma once

#include <memory>
#include <string>

#include "ibcm/api.h"
#include "ibcm/result.h"
#include "ibcm/transport/ip_address.h"
#include "ibcm/transport/roce_sender.h"
#include "ibcm/transport/transport.h"

IBCM_API_BEGIN

namespace ibcm {

/// IBTA P_Key matching (10.9.3): the low 15 bits are equal (and not 0, which is no partition), and
/// at least one of the two is a full member (bit 15).
bool pkey_matches(uint16_t ours, uint16_t theirs);

struct RoceOptions {
  std::string interface;   ///< the interface to send on (empty: by route)
  uint16_t pkey = 0xFFFF;  ///< our partition: received packets must match it; we send with it
  /// The UDP port we listen on and the one peers listen on. A RoCEv2 peer always uses 4791; other
  /// values exist so that two transports can share one IPv6 address in tests (IPv6 loopback has
  /// only ::1). IPv6 only. The ICRC is computed, and checked, with 4791 as destination port.
  uint16_t port = 4791;
  uint16_t peer_port = 4791;
};

class RoceTransport final : public Transport {
 public:
  static Expected<std::unique_ptr<RoceTransport>, std::string> open(const IpEndpoint& local,
                                                                    const RoceOptions& options);
  ~RoceTransport() override;

  int fd() const override { return rx_fd_; }
  size_t receive(std::span<Received> out) override;
  void send(std::span<const Transmit> batch) override;
  Address local() const override;
  const TransportCounters& counters() const override { return counters_; }
  std::string name() const override { return "roce " + local_.to_string(); }

 private:
  RoceTransport() = default;
  bool accept_packet(std::span<const uint8_t> ip_packet, Received& out);
  IpEndpoint local_;
  RoceOptions options_;
  bool v4_ = true;
  int rx_fd_ = -1;    ///< v4: raw IPPROTO_UDP; v6: the UDP socket
  int sink_fd_ = -1;  ///< v4: a UDP socket on 4791, so the kernel does not answer ICMP unreachable
  std::unique_ptr<RoceSender> sender_;  ///< v4: its raw socket; v6: over the UDP socket
  TransportCounters counters_;
};

}  // namespace ibcm

IBCM_API_END
