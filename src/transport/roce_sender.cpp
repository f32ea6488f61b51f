#include "ibcm/transport/roce_sender.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "ibcm/wire/roce.h"
#include "transport/roce_socket_error.h"

namespace ibcm {

namespace roce = wire::roce;

namespace {
constexpr size_t kMaxPacket = 2048;
constexpr size_t kIpv6UdpHeaders = 48;  // what the kernel writes in front of an IPv6 payload
}  // namespace

Expected<std::unique_ptr<RoceSender>, std::string> RoceSender::open(const IpEndpoint& local,
                                                                    uint16_t pkey,
                                                                    const std::string& interface) {
  std::unique_ptr<RoceSender> s(new RoceSender());
  s->local_ = local;
  s->pkey_ = pkey;
  s->v4_ = local.is_v4();
  s->owns_fd_ = true;
  auto fail = [](const std::string& what) { return Unexpected{roce_socket_error(what)}; };
  if (s->v4_) {
    s->fd_ = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (s->fd_ < 0) return fail("raw socket for sending");
  } else {
    s->fd_ = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s->fd_ < 0) return fail("UDP socket for sending");
    if (::bind(s->fd_, reinterpret_cast<const sockaddr*>(&local.addr), local.len) != 0)
      return fail("bind " + local.to_string());
    // The UDP source port is under the ICRC: the one the kernel picked.
    SocketAddress bound{};
    socklen_t len = sizeof bound;
    if (::getsockname(s->fd_, reinterpret_cast<sockaddr*>(&bound), &len) != 0)
      return fail("getsockname");
    s->local_ = endpoint_of(bound, len);
  }
  if (!interface.empty() && ::setsockopt(s->fd_, SOL_SOCKET, SO_BINDTODEVICE, interface.c_str(),
                                         static_cast<socklen_t>(interface.size())) != 0)
    return fail("bind to device " + interface);
  return s;
}

std::unique_ptr<RoceSender> RoceSender::over_udp_socket(int fd, const IpEndpoint& bound,
                                                        uint16_t pkey) {
  std::unique_ptr<RoceSender> s(new RoceSender());
  s->local_ = bound;
  s->pkey_ = pkey;
  s->v4_ = false;
  s->fd_ = fd;
  return s;
}

RoceSender::~RoceSender() {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

int RoceSender::send(const IpEndpoint& to_in, std::span<const uint8_t> mad, const RocePath& path) {
  uint8_t buf[kMaxPacket];
  roce::Datagram d;
  d.src_gid = gid_of(local_);
  d.dst_gid = gid_of(to_in);
  d.src_port = v4_ ? roce::kUdpPort : local_.port();
  d.dst_port = roce::kUdpPort;
  d.hop_limit = path.hop_limit;
  d.traffic_class = path.traffic_class;
  // IP_HDRINCL: an Identification of 0 is one the kernel fills in, after the ICRC was computed.
  if (ip_id_ == 0) ip_id_ = 1;
  d.ip_id = ip_id_++;
  d.bth.pkey = pkey_;  // one partition: replies and requests alike are in ours
  d.bth.psn = psn_++ & 0xFFFFFF;
  d.payload = mad;
  size_t n = roce::build_ip_packet(d, buf);
  IpEndpoint to = to_in;
  if (to.port() == 0) to.set_port(roce::kUdpPort);
  ssize_t rc;
  if (v4_) {
    rc = ::sendto(fd_, buf, n, 0, reinterpret_cast<const sockaddr*>(&to.addr), to.len);
  } else {
    // The kernel writes the IPv6 and UDP headers (traffic class and hop limit from the socket's
    // defaults: masked in the ICRC); we send what follows them.
    rc = ::sendto(fd_, buf + kIpv6UdpHeaders, n - kIpv6UdpHeaders, 0,
                  reinterpret_cast<const sockaddr*>(&to.addr), to.len);
  }
  return rc < 0 ? errno : 0;
}

}  // namespace ibcm
