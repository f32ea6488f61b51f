// The test process's side of the rdmacm tests: waiting for the next event on a channel with a
// deadline (poll on its fd, never a sleep), addresses on 127.0.0.1, private data as hex (the
// peer program prints it so).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <rdma/rdma_cma.h>

#include <cstdint>
#include <memory>
#include <string>

namespace ibcm::rdmacm::test {

// The private data each message carries for the program (IBTA Vol 1 12.6; a REQ's and a
// SIDR_REQ's first 36 bytes are rdma_cm's header, not the program's).
constexpr size_t kReqUser = 56;
constexpr size_t kRep = 196;
constexpr size_t kRej = 148;
constexpr size_t kSidrReqUser = 180;
constexpr size_t kSidrRep = 136;

struct AckEvent {
  void operator()(rdma_cm_event* e) const { rdma_ack_cm_event(e); }
};
using EventPtr = std::unique_ptr<rdma_cm_event, AckEvent>;

// The next event on `ch`, or null if none came within timeout_ms.
inline EventPtr next_event(rdma_event_channel* ch, int timeout_ms = 10000) {
  pollfd p{ch->fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return nullptr;
  rdma_cm_event* e = nullptr;
  if (rdma_get_cm_event(ch, &e) != 0) return nullptr;
  return EventPtr(e);
}

// Whether an event is waiting on `ch` now.
inline bool event_waiting(rdma_event_channel* ch) {
  pollfd p{ch->fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

inline sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

inline sockaddr* as_sockaddr(sockaddr_in& a) {
  return reinterpret_cast<sockaddr*>(&a);
}

inline std::string hex(const void* data, size_t len) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  const auto* b = static_cast<const uint8_t*>(data);
  for (size_t i = 0; b && i < len; ++i) {
    out += digits[b[i] >> 4];
    out += digits[b[i] & 0xF];
  }
  return out;
}
inline std::string hex(const std::string& text) {
  return hex(text.data(), text.size());
}

// The private data of an event as hex, "-" for none (as the peer prints it).
inline std::string private_hex(const rdma_cm_event& e) {
  std::string h = hex(e.param.conn.private_data, e.param.conn.private_data_len);
  return h.empty() ? "-" : h;
}

// `text` as hex followed by zero bytes up to `len`: private data as it arrives, padded to the
// message's field (the man pages: "any additional space in the buffer will be zeroed out").
inline std::string padded_hex(const std::string& text, size_t len) {
  return hex(text) + std::string(2 * (len - text.size()), '0');
}

// The event name a peer's event line starts with.
inline std::string event_name(const std::string& peer_line) {
  return peer_line.substr(0, peer_line.find(' '));
}

// The value after "key=" in a peer's event line ("" if absent).
inline std::string field(const std::string& line, const std::string& key) {
  auto at = line.find(" " + key + "=");
  if (at == std::string::npos) return "";
  at += key.size() + 2;
  return line.substr(at, line.find(' ', at) - at);
}

}  // namespace ibcm::rdmacm::test
