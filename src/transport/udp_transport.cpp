#include "ibcm/transport/udp_transport.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ibcm {

namespace {
// As many datagrams as the Runtime takes a round (Runtime::kReceiveBatch), so that one call moves
// a whole round's input or output: with 64, a round of exactly 64 datagrams in cost a second
// recvmmsg that found nothing, and a round of more than 64 out (a REP answered with an RTU and the
// next REQ) two sendmmsg calls.
constexpr size_t kBatch = 256;
}  // namespace

struct UdpTransport::Batches {
  mmsghdr rx[kBatch];
  iovec rx_iov[kBatch];
  sockaddr_storage from[kBatch];  // written by the kernel
  mmsghdr tx[kBatch];
  iovec tx_iov[kBatch];
  SocketAddress to[kBatch];
};

UdpTransport::UdpTransport(int fd, IpEndpoint local)
    : fd_(fd), local_(local), batches_(std::make_unique<Batches>()) {
  Batches& b = *batches_;
  for (size_t i = 0; i < kBatch; ++i) {
    b.rx[i] = mmsghdr{};
    b.rx[i].msg_hdr.msg_iov = &b.rx_iov[i];
    b.rx[i].msg_hdr.msg_iovlen = 1;
    b.rx[i].msg_hdr.msg_name = &b.from[i];
    b.tx[i] = mmsghdr{};
    b.tx[i].msg_hdr.msg_iov = &b.tx_iov[i];
    b.tx[i].msg_hdr.msg_iovlen = 1;
    b.tx[i].msg_hdr.msg_name = &b.to[i];
  }
}

Expected<std::unique_ptr<UdpTransport>, std::string> UdpTransport::open(const IpEndpoint& local) {
  int fd = ::socket(local.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unexpected{std::string("socket: ") + std::strerror(errno)};
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&local.addr), local.len) != 0) {
    std::string err = "bind " + local.to_string() + ": " + std::strerror(errno);
    ::close(fd);
    return Unexpected{err};
  }
  IpEndpoint bound = local;
  bound.len = sizeof(bound.addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound.addr), &bound.len);
  return std::unique_ptr<UdpTransport>(new UdpTransport(fd, bound));
}

UdpTransport::~UdpTransport() {
  ::close(fd_);
}

// Only what a datagram changes is written per call: clearing whole batches of headers (13 KB a
// call, for one datagram as for 64) was a third of the instructions of a process running
// handshakes.

size_t UdpTransport::receive(std::span<Received> out) {
  Batches& b = *batches_;
  size_t total = 0;
  while (total < out.size()) {
    size_t n = std::min(kBatch, out.size() - total);
    for (size_t i = 0; i < n; ++i) {
      b.rx_iov[i] = {out[total + i].mad.data(), out[total + i].mad.size()};
      b.rx[i].msg_hdr.msg_namelen = sizeof(b.from[i]);  // the kernel overwrites it
    }
    int got = ::recvmmsg(fd_, b.rx, static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
    if (got <= 0) break;
    for (int i = 0; i < got; ++i) {
      Received& r = out[total + i];
      r.from = address_of(b.from[i]);
      // MSG_TRUNC in msg_flags: longer than a MAD. Pass on an over-long length so the engine
      // counts it as such rather than decoding a prefix.
      bool trunc = b.rx[i].msg_hdr.msg_flags & MSG_TRUNC;
      r.length = trunc ? static_cast<uint16_t>(wire::kMadSize + 1)
                       : static_cast<uint16_t>(b.rx[i].msg_len);
    }
    counters_.rx_packets += got;
    total += got;
    if (static_cast<size_t>(got) < n) break;
  }
  return total;
}

void UdpTransport::send(std::span<const Transmit> batch) {
  Batches& b = *batches_;
  const bool v6_socket = !local_.is_v4();
  size_t done = 0;
  while (done < batch.size()) {
    size_t n = std::min(kBatch, batch.size() - done);
    for (size_t i = 0; i < n; ++i) {
      const Transmit& t = batch[done + i];
      // An IPv6 socket reaches IPv4 peers through mapped addresses; an IPv4 socket cannot reach
      // IPv6 ones: that send fails and is counted below.
      b.tx[i].msg_hdr.msg_namelen = socket_address_of(t.to.gid, t.to.port, v6_socket, b.to[i]);
      b.tx_iov[i] = {const_cast<uint8_t*>(t.mad.data()), t.mad.size()};
    }
    auto endpoint = [&](size_t i) { return endpoint_of(b.to[i], b.tx[i].msg_hdr.msg_namelen); };
    int sent = ::sendmmsg(fd_, b.tx, static_cast<unsigned>(n), 0);
    if (sent > 0) {
      counters_.tx_packets += static_cast<uint64_t>(sent);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      // The socket buffer is full: drop the rest of this batch (a CM retries on its own).
      const int code = errno;
      for (size_t i = 0; i < n; ++i) count_send_error(counters_, code, endpoint(i));
      sent = static_cast<int>(n);
    } else {
      count_send_error(counters_, errno, endpoint(0));  // this one failed (e.g. unreachable)
      sent = 1;                                         // go on with the rest
    }
    done += static_cast<size_t>(sent);
  }
}

}  // namespace ibcm
