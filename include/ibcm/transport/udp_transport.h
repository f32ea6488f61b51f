/// @file
/// MAD-over-UDP: ibcm to ibcm with no RDMA device and no privileges. Each UDP datagram carries
/// exactly one 256-byte MAD and nothing else (docs/transports.md). A peer's Address is its IP
/// address as a GID (IPv4-mapped for IPv4) with its UDP port in Address::port.
#pragma once

#include <memory>
#include <string>

#include "ibcm/api.h"
#include "ibcm/result.h"
#include "ibcm/transport/ip_address.h"
#include "ibcm/transport/transport.h"

IBCM_API_BEGIN

namespace ibcm {

class UdpTransport final : public Transport {
 public:
  /// Binds a non-blocking UDP socket to `local` (port 0: the kernel picks one).
  static Expected<std::unique_ptr<UdpTransport>, std::string> open(const IpEndpoint& local);
  ~UdpTransport() override;

  int fd() const override { return fd_; }
  size_t receive(std::span<Received> out) override;
  void send(std::span<const Transmit> batch) override;
  Address local() const override { return address_of(local_); }
  const TransportCounters& counters() const override { return counters_; }
  std::string name() const override { return "udp " + local_.to_string(); }
  const IpEndpoint& endpoint() const { return local_; }

 private:
  UdpTransport(int fd, IpEndpoint local);
  int fd_;
  IpEndpoint local_;
  TransportCounters counters_;
  /// The recvmmsg/sendmmsg headers, set up once: a call rewrites only what changes per datagram.
  struct IBCM_PRIVATE Batches;
  std::unique_ptr<Batches> batches_;
};

}  // namespace ibcm

IBCM_API_END
