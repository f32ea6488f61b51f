#include "ibcm/transport/ip_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace ibcm {

namespace {
wire::Gid gid_of(const sockaddr_storage& sa) {
  wire::Gid g{};
  if (sa.ss_family == AF_INET) {
    g[10] = g[11] = 0xff;
    std::memcpy(&g[12], &reinterpret_cast<const sockaddr_in&>(sa).sin_addr, 4);
  } else {
    std::memcpy(g.data(), &reinterpret_cast<const sockaddr_in6&>(sa).sin6_addr, 16);
  }
  return g;
}
uint16_t port_of(const sockaddr_storage& sa) {
  return ntohs(sa.ss_family == AF_INET ? reinterpret_cast<const sockaddr_in&>(sa).sin_port
                                       : reinterpret_cast<const sockaddr_in6&>(sa).sin6_port);
}
bool is_v4_mapped(const wire::Gid& gid) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(gid.data(), kPrefix, sizeof kPrefix) == 0;  // two word compares
}
}  // namespace

uint16_t IpEndpoint::port() const {
  return port_of(addr);
}

void IpEndpoint::set_port(uint16_t port) {
  if (is_v4())
    reinterpret_cast<sockaddr_in&>(addr).sin_port = htons(port);
  else
    reinterpret_cast<sockaddr_in6&>(addr).sin6_port = htons(port);
}

std::string IpEndpoint::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v4()) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(port());
  }
  inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, buf, sizeof buf);
  return std::string("[").append(buf).append("]:").append(std::to_string(port()));
}

std::optional<IpEndpoint> parse_endpoint(std::string_view text, uint16_t default_port) {
  std::string host(text);
  std::string port_text;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string::npos) return std::nullopt;
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') return std::nullopt;
      port_text = host.substr(close + 2);
    }
    host = host.substr(1, close - 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    auto colon = host.find(':');
    port_text = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  uint16_t port = default_port;
  if (!port_text.empty()) {
    char* end = nullptr;
    unsigned long v = std::strtoul(port_text.c_str(), &end, 10);
    if (*end != '\0' || v > 65535) return std::nullopt;
    port = static_cast<uint16_t>(v);
  }
  IpEndpoint ep;
  auto& v4 = reinterpret_cast<sockaddr_in&>(ep.addr);
  auto& v6 = reinterpret_cast<sockaddr_in6&>(ep.addr);
  if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    ep.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    ep.len = sizeof(sockaddr_in6);
  } else {
    return std::nullopt;
  }
  ep.set_port(port);
  return ep;
}

wire::Gid gid_of(const IpEndpoint& ep) {
  return gid_of(ep.addr);
}

IpEndpoint endpoint_of(const wire::Gid& gid, uint16_t port) {
  SocketAddress sa;
  const socklen_t len = socket_address_of(gid, port, false, sa);
  return endpoint_of(sa, len);
}

IpEndpoint endpoint_of(const SocketAddress& sa, socklen_t len) {
  IpEndpoint ep;
  std::memcpy(&ep.addr, &sa, len);
  ep.len = len;
  return ep;
}

Address address_of(const IpEndpoint& ep) {
  return address_of(ep.addr);
}

Address address_of(const sockaddr_storage& sa) {
  Address a;
  a.gid = gid_of(sa);
  a.port = port_of(sa);
  return a;
}

socklen_t socket_address_of(const wire::Gid& gid, uint16_t port, bool v6_socket,
                            SocketAddress& out) {
  if (!v6_socket && is_v4_mapped(gid)) {
    out.v4 = sockaddr_in{};
    out.v4.sin_family = AF_INET;
    out.v4.sin_port = htons(port);
    std::memcpy(&out.v4.sin_addr, &gid[12], 4);
    return sizeof out.v4;
  }
  out.v6 = sockaddr_in6{};
  out.v6.sin6_family = AF_INET6;
  out.v6.sin6_port = htons(port);
  std::memcpy(&out.v6.sin6_addr, gid.data(), 16);
  return sizeof out.v6;
}

}  // namespace ibcm
