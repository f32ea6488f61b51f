/// @file
/// IP addresses as the CLI and the transports take them, and their GID form (IPv4-mapped for IPv4,
/// as RoCEv2 does).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

#include "ibcm/api.h"
#include "ibcm/engine/types.h"

IBCM_API_BEGIN

namespace ibcm {

struct IpEndpoint {
  sockaddr_storage addr{};  ///< AF_INET or AF_INET6, port in network order inside
  socklen_t len = 0;
  bool is_v4() const { return addr.ss_family == AF_INET; }
  uint16_t port() const;
  void set_port(uint16_t port);
  std::string to_string() const;  ///< "198.51.100.1:4791" or "[2001:db8::1]:4791"
};

/// Parses "1.2.3.4", "1.2.3.4:5", "2001:db8::1", "[2001:db8::1]:5"; default_port when none given.
std::optional<IpEndpoint> parse_endpoint(std::string_view text, uint16_t default_port);

wire::Gid gid_of(const IpEndpoint& ep);
/// The endpoint a GID and port name (IPv4 for IPv4-mapped GIDs).
IpEndpoint endpoint_of(const wire::Gid& gid, uint16_t port);
/// The engine's Address for an endpoint: its GID, and its port in Address::port.
Address address_of(const IpEndpoint& ep);
/// The same for a socket address as the kernel reports it (AF_INET or AF_INET6).
Address address_of(const sockaddr_storage& sa);

/// A socket address to send to, written in place per datagram (a sockaddr_storage is 128 bytes).
union SocketAddress {
  sockaddr_in v4;
  sockaddr_in6 v6;
};
/// Fills `out` for (gid, port) and returns its length: IPv4 for an IPv4-mapped GID on an IPv4
/// socket, otherwise IPv6 (an IPv6 socket reaches IPv4 peers through their mapped address).
socklen_t socket_address_of(const wire::Gid& gid, uint16_t port, bool v6_socket,
                            SocketAddress& out);
/// The endpoint a socket address of `len` bytes names (as socket_address_of wrote it).
IpEndpoint endpoint_of(const SocketAddress& sa, socklen_t len);

}  // namespace ibcm

IBCM_API_END
