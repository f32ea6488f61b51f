// IP addresses as the CLI and the transports take them, and their GID form (IPv4-mapped for IPv4,
// as RoCEv2 does).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

#include "ibcm/engine/types.h"

namespace ibcm {

struct IpEndpoint {
  sockaddr_storage addr{};  // AF_INET or AF_INET6, port in network order inside
  socklen_t len = 0;
  bool is_v4() const { return addr.ss_family == AF_INET; }
  uint16_t port() const;
  void set_port(uint16_t port);
  std::string to_string() const;  // "198.51.100.1:4791" or "[2001:db8::1]:4791"
};

// Parses "1.2.3.4", "1.2.3.4:5", "2001:db8::1", "[2001:db8::1]:5"; default_port when none given.
std::optional<IpEndpoint> parse_endpoint(std::string_view text, uint16_t default_port);

wire::Gid gid_of(const IpEndpoint& ep);
// The endpoint a GID and port name (IPv4 for IPv4-mapped GIDs).
IpEndpoint endpoint_of(const wire::Gid& gid, uint16_t port);
// The engine's Address for an endpoint: its GID, and its port in Address::port.
Address address_of(const IpEndpoint& ep);

}  // namespace ibcm
