#include "ibcm/transport/roce_transport.h"

#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ibcm/wire/roce.h"
#include "transport/roce_socket_error.h"

namespace ibcm {

namespace roce = wire::roce;

namespace {

constexpr size_t kMaxPacket = 2048;

// Lets only UDP packets to port 4791 reach the raw IPv4 socket (it would otherwise see every UDP
// packet on the host). Classic BPF over the IPv4 header: protocol 17, not a fragment, port 4791.
void attach_roce_filter(int fd) {
  static sock_filter code[] = {
      {0x30, 0, 0, 9},               // ldb [9]            protocol
      {0x15, 0, 5, IPPROTO_UDP},     // jeq 17
      {0x28, 0, 0, 6},               // ldh [6]            flags/fragment offset
      {0x45, 3, 0, 0x1fff},          // jset 0x1fff -> drop
      {0xb1, 0, 0, 0},               // ldxb 4*([0]&0xf)   header length
      {0x48, 0, 0, 2},               // ldh [x+2]          UDP destination port
      {0x15, 1, 0, roce::kUdpPort},  // jeq 4791 -> accept
      {0x06, 0, 0, 0},               // drop
      {0x06, 0, 0, 0x40000},         // accept
  };
  sock_fprog prog{static_cast<unsigned short>(std::size(code)), code};
  ::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

}  // namespace

bool pkey_matches(uint16_t ours, uint16_t theirs) {
  constexpr uint16_t kFull = 0x8000;
  if ((ours & ~kFull) == 0 || (ours & ~kFull) != (theirs & ~kFull)) return false;
  return (ours & kFull) || (theirs & kFull);
}

Expected<std::unique_ptr<RoceTransport>, std::string> RoceTransport::open(
    const IpEndpoint& local_in, const RoceOptions& options) {
  std::unique_ptr<RoceTransport> t(new RoceTransport());
  t->options_ = options;
  t->local_ = local_in;
  t->local_.set_port(options.port);
  t->v4_ = local_in.is_v4();
  auto fail = [&](const std::string& m) { return Unexpected{m}; };
  const std::string& interface = options.interface;
  if ((options.pkey & 0x7FFF) == 0) return fail("P_Key 0x0000 / 0x8000 names no partition");
  if (t->v4_ && (options.port != roce::kUdpPort || options.peer_port != roce::kUdpPort))
    return fail("UDP ports other than 4791 are for IPv6 only");

  // The UDP socket on 4791: the data path for IPv6, the ICMP silencer for IPv4.
  int udp = ::socket(t->v4_ ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (udp < 0) return fail(roce_socket_error("socket"));
  // No SO_REUSEADDR: a second stack on this address and port must fail here, not share the port
  // and take some of the first one's datagrams.
  int one = 1;
  if (!t->v4_) ::setsockopt(udp, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  if (::bind(udp, reinterpret_cast<const sockaddr*>(&t->local_.addr), t->local_.len) != 0) {
    std::string m = roce_socket_error("bind " + t->local_.to_string());
    ::close(udp);
    return fail(m + " (is another RoCE stack or ibcm using port 4791 on this address?)");
  }
  if (!interface.empty())
    ::setsockopt(udp, SOL_SOCKET, SO_BINDTODEVICE, interface.c_str(),
                 static_cast<socklen_t>(interface.size()));
  if (!t->v4_) {
    t->rx_fd_ = udp;
    t->sender_ = RoceSender::over_udp_socket(udp, t->local_, options.pkey);
    return t;
  }
  t->sink_fd_ = udp;
  int small = 4096;
  ::setsockopt(udp, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);

  auto sender = RoceSender::open(t->local_, options.pkey, interface);
  if (!sender) return fail(sender.error());
  t->sender_ = std::move(*sender);
  t->rx_fd_ = ::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (t->rx_fd_ < 0) return fail(roce_socket_error("raw socket for receiving"));
  attach_roce_filter(t->rx_fd_);
  // What arrived between socket() and the filter is any IPv4 UDP on this host (another program's
  // datagrams): it would be counted as drops. Nothing was ours yet, so it is thrown away.
  uint8_t discard[kMaxPacket];
  while (::recv(t->rx_fd_, discard, sizeof discard, MSG_DONTWAIT) >= 0) {
  }
  if (!interface.empty())
    ::setsockopt(t->rx_fd_, SOL_SOCKET, SO_BINDTODEVICE, interface.c_str(),
                 static_cast<socklen_t>(interface.size()));
  return t;
}

RoceTransport::~RoceTransport() {
  sender_.reset();  // before the IPv6 socket it sends on
  for (int fd : {rx_fd_, sink_fd_})
    if (fd >= 0) ::close(fd);
}

Address RoceTransport::local() const {
  Address a = address_of(local_);
  a.port = 0;
  return a;
}

bool RoceTransport::accept_packet(std::span<const uint8_t> packet, Received& out) {
  // Counts a drop under its reason (and in rx_dropped, their sum).
  auto drop = [this](uint64_t TransportCounters::*reason) {
    ++(counters_.*reason);
    ++counters_.rx_dropped;
    return false;
  };
  auto parsed = roce::parse_ip_packet(packet);
  if (!parsed)
    return drop(parsed.error() == roce::ParseError::NotUd ? &TransportCounters::rx_not_ud
                                                          : &TransportCounters::rx_malformed);
  const auto& d = parsed->dgram;
  // Raw sockets see traffic for other local addresses too.
  if (d.dst_gid != gid_of(local_)) return drop(&TransportCounters::rx_other_address);
  // In the order a channel adapter checks: integrity, partition, QP, then Q_Key.
  if (!parsed->icrc_ok) return drop(&TransportCounters::rx_bad_icrc);
  if (!pkey_matches(options_.pkey, d.bth.pkey)) return drop(&TransportCounters::rx_bad_pkey);
  // GMPs come from QP 1 and replies go to QP 1; a MAD from another QP could not be answered.
  if (d.bth.dest_qp != 1 || d.deth.src_qp != 1) return drop(&TransportCounters::rx_other_qp);
  if (d.deth.qkey != roce::kGsiQkey) return drop(&TransportCounters::rx_bad_qkey);
  out.from = Address{};
  out.from.gid = d.src_gid;
  out.from.port = d.src_port;
  out.from.pkey = d.bth.pkey;
  size_t n = std::min(d.payload.size(), out.mad.size());
  std::copy_n(d.payload.begin(), n, out.mad.begin());  // the payload may be empty
  out.length = static_cast<uint16_t>(d.payload.size() > out.mad.size() ? out.mad.size() + 1 : n);
  return true;
}

size_t RoceTransport::receive(std::span<Received> out) {
  size_t got = 0;
  uint8_t buf[kMaxPacket];
  while (got < out.size()) {
    if (v4_) {
      ssize_t n = ::recv(rx_fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) break;
      ++counters_.rx_packets;
      if (accept_packet({buf, static_cast<size_t>(n)}, out[got])) ++got;
      continue;
    }
    // IPv6: rebuild the headers the kernel took off, for parsing and the ICRC. Only masked
    // fields (traffic class, flow label, hop limit, UDP checksum) are unknown here. The
    // destination port is RoCEv2's, whatever port a test bound (RoceOptions::port).
    uint8_t* payload = buf + 48;
    sockaddr_in6 from{};
    char ctrl[128];
    iovec iov{payload, sizeof buf - 48};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctrl;
    msg.msg_controllen = sizeof ctrl;
    ssize_t n = ::recvmsg(rx_fd_, &msg, MSG_DONTWAIT);
    if (n <= 0) break;
    ++counters_.rx_packets;
    in6_addr dst = reinterpret_cast<const sockaddr_in6&>(local_.addr).sin6_addr;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
      if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
        dst = reinterpret_cast<in6_pktinfo*>(CMSG_DATA(c))->ipi6_addr;
    uint16_t udp_len = static_cast<uint16_t>(n + 8);
    std::memset(buf, 0, 48);
    buf[0] = 0x60;
    buf[4] = static_cast<uint8_t>(udp_len >> 8);
    buf[5] = static_cast<uint8_t>(udp_len);
    buf[6] = IPPROTO_UDP;
    buf[7] = 64;
    std::memcpy(buf + 8, &from.sin6_addr, 16);
    std::memcpy(buf + 24, &dst, 16);
    std::memcpy(buf + 40, &from.sin6_port, 2);
    buf[42] = roce::kUdpPort >> 8;
    buf[43] = roce::kUdpPort & 0xff;
    buf[44] = static_cast<uint8_t>(udp_len >> 8);
    buf[45] = static_cast<uint8_t>(udp_len);
    if (accept_packet({buf, static_cast<size_t>(n) + 48}, out[got])) ++got;
  }
  return got;
}

void RoceTransport::send(std::span<const Transmit> batch) {
  for (const Transmit& t : batch) {
    IpEndpoint to = endpoint_of(t.to.gid, options_.peer_port);
    if (int e = sender_->send(to, t.mad); e != 0)
      count_send_error(counters_, e, to);
    else
      ++counters_.tx_packets;
  }
}

}  // namespace ibcm
