// RoceTransport on loopback: a handshake between two transports (one a full, one a limited member
// of the same partition), then crafted RoCEv2 frames sent at one of them from a plain socket, each
// with one defect, each counted under its reason and dropped, and a good one delivered.
//
// IPv6 runs unprivileged on ::1. IPv6 loopback has only that address and RoCEv2 has one UDP port,
// so the two transports use two other ports (RoceOptions::port / peer_port, IPv6 only), taken from
// the PID so that test binaries running at once do not meet. IPv4 uses the real port 4791 on two
// loopback addresses of this process's own (127.x.y.1 and .2); it needs a raw socket, so root or
// CAP_NET_RAW, and is skipped without.
#include "ibcm/transport/roce_transport.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "ibcm/transport/runtime.h"
#include "ibcm/wire/roce.h"

using namespace ibcm;
using namespace std::chrono_literals;
namespace roce = wire::roce;

namespace {

constexpr uint64_t kService = 0x106000000001234ull;
constexpr uint16_t kFullPkey = 0x8001;     // the passive side: full member of partition 1
constexpr uint16_t kLimitedPkey = 0x0001;  // the active side: limited member of the same

struct Family {
  bool v4;
  IpEndpoint active, passive;  // their addresses
  RoceOptions active_options, passive_options;
};

Family ipv6_family() {
  Family f;
  f.v4 = false;
  f.active = *parse_endpoint("::1", 0);
  f.passive = f.active;
  // Above the kernel's ephemeral ports and the CLI tests' ports.
  uint16_t base = static_cast<uint16_t>(61000 + (::getpid() % 2000) * 2);
  f.active_options.port = f.passive_options.peer_port = base;
  f.passive_options.port = f.active_options.peer_port = static_cast<uint16_t>(base + 1);
  return f;
}

Family ipv4_family() {
  Family f;
  f.v4 = true;
  int pid = ::getpid();
  std::string net =
      "127." + std::to_string(100 + pid % 100) + "." + std::to_string(pid / 100 % 250);
  f.active = *parse_endpoint(net + ".1", 0);
  f.passive = *parse_endpoint(net + ".2", 0);
  return f;
}

// One side: a Runtime over a RoceTransport, driven from the test thread, and what it saw.
struct Side {
  std::unique_ptr<Runtime> rt;
  std::vector<ev::ReqReceived> reqs;
  std::vector<std::string> events;
  bool accept_reqs = true;

  Side(const IpEndpoint& ep, uint16_t pkey, RoceOptions options, uint64_t guid) {
    options.pkey = pkey;
    auto t = RoceTransport::open(ep, options);
    if (!t) {
      ADD_FAILURE() << t.error();
      return;
    }
    Config c;
    c.ca_guid = guid;
    c.seed = guid;
    rt = std::make_unique<Runtime>(c, std::move(t.value()));
    rt->on_event([this](Cm& cm, Time now, const Event& e) {
      events.emplace_back(event_name(e));
      if (auto* req = std::get_if<ev::ReqReceived>(&e)) {
        reqs.push_back(*req);
        AcceptParams ap;
        ap.qpn = 0x42;
        if (accept_reqs) {
          EXPECT_TRUE(cm.accept(now, req->conn, ap).has_value());
        }
      } else if (auto* rep = std::get_if<ev::RepReceived>(&e)) {
        EXPECT_TRUE(cm.send_rtu(now, rep->conn).has_value());
      }
    });
  }
  const TransportCounters& counters() { return rt->transport().counters(); }
  bool saw(const std::string& name) const {
    return std::find(events.begin(), events.end(), name) != events.end();
  }
};

// Runs the sides' loops in turn until done() or 10 s pass (each round waits for input or a
// timer, at most 5 ms).
bool drive(std::initializer_list<Side*> sides, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    for (Side* s : sides) EXPECT_TRUE(s->rt->run_once(5ms));
  }
  return true;
}

// A real REQ from a CM that is on no network, to copy into crafted frames.
wire::MadBytes crafted_req(const IpEndpoint& to) {
  Config c;
  c.ca_guid = 0x5555;
  c.seed = 5;
  Cm cm(c);
  ConnectParams p;
  p.service_id = kService;
  p.dest = address_of(to);
  p.qpn = 0x999;
  auto conn = cm.connect(Time{0}, p);
  EXPECT_TRUE(conn.has_value());
  auto tx = cm.poll_transmit();
  EXPECT_TRUE(tx.has_value());
  return tx ? tx->mad : wire::MadBytes{};
}

// Sends RoCEv2 frames from a socket of its own, as any host on the network could.
class Injector {
 public:
  explicit Injector(const Family& f) : f_(f) {
    if (f.v4) {
      fd_ = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);  // IP header included
    } else {
      fd_ = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      IpEndpoint any = *parse_endpoint("::1", 0);
      EXPECT_EQ(::bind(fd_, reinterpret_cast<const sockaddr*>(&any.addr), any.len), 0);
      IpEndpoint bound;
      bound.len = sizeof bound.addr;
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound.addr), &bound.len);
      src_port_ = bound.port();  // the ICRC covers the UDP source port
    }
    EXPECT_GE(fd_, 0) << std::strerror(errno);
  }
  ~Injector() { ::close(fd_); }

  // A datagram from a third address (IPv4) or port (IPv6) to the passive side's CM.
  roce::Datagram datagram(std::span<const uint8_t> mad) const {
    roce::Datagram d;
    IpEndpoint src = f_.passive;
    if (f_.v4) reinterpret_cast<sockaddr_in&>(src.addr).sin_addr.s_addr ^= htonl(0x04);  // .6
    d.src_gid = gid_of(src);
    d.dst_gid = gid_of(f_.passive);
    d.src_port = f_.v4 ? roce::kUdpPort : src_port_;
    d.bth.pkey = kFullPkey;
    d.payload = mad;
    return d;
  }
  // Sends the packet build_ip_packet makes of d; `spoil` may change its bytes first, and `keep`
  // cut it `keep` bytes after the UDP header (the kernel then sets the IP or UDP length to match
  // what is sent, and the UDP length field no longer does or the BTH is cut short).
  void send(const roce::Datagram& d, const std::function<void(std::span<uint8_t>)>& spoil = {},
            size_t keep = 0) {
    uint8_t buf[roce::kMaxFrameSize];
    size_t n = roce::build_ip_packet(d, buf);
    ASSERT_GT(n, 48u);
    if (spoil) spoil({buf, n});
    size_t headers = f_.v4 ? 28 : 48;
    if (keep) n = headers + keep;
    IpEndpoint to = f_.passive;
    to.set_port(f_.v4 ? 0 : f_.passive_options.port);
    // IPv6: the kernel writes the IPv6 and UDP headers; what follows them is ours.
    size_t skip = f_.v4 ? 0 : headers;
    ASSERT_EQ(
        ::sendto(fd_, buf + skip, n - skip, 0, reinterpret_cast<const sockaddr*>(&to.addr), to.len),
        static_cast<ssize_t>(n - skip))
        << std::strerror(errno);
  }

 private:
  Family f_;
  int fd_ = -1;
  uint16_t src_port_ = 0;
};

void handshake_and_drops(const Family& f) {
  Side active(f.active, kLimitedPkey, f.active_options, 0xA1);
  Side passive(f.passive, kFullPkey, f.passive_options, 0xB2);
  ASSERT_TRUE(active.rt && passive.rt);
  ASSERT_TRUE(passive.rt->post([](Cm& cm, Time) { EXPECT_TRUE(cm.listen(kService)); }));
  ASSERT_TRUE(active.rt->post([&](Cm& cm, Time now) {
    ConnectParams p;
    p.service_id = kService;
    p.dest = passive.rt->transport().local();
    p.qpn = 0x77;
    p.packet_life_time = 10;
    p.remote_cm_response_timeout = 12;
    EXPECT_TRUE(cm.connect(now, p).has_value());
  }));

  // A limited and a full member of one partition talk: REQ, REP, RTU.
  ASSERT_TRUE(drive({&active, &passive}, [&] { return passive.saw("rtu_received"); }));
  EXPECT_TRUE(active.saw("established"));
  ASSERT_EQ(passive.reqs.size(), 1u);
  EXPECT_EQ(passive.reqs[0].from.pkey, kLimitedPkey) << "the active side sends with its P_Key";
  EXPECT_EQ(passive.reqs[0].from.gid, gid_of(f.active));
  for (Side* s : {&active, &passive}) {
    const TransportCounters& c = s->counters();
    EXPECT_GE(c.tx_packets, 1u);
    EXPECT_GE(c.rx_packets, 1u);
    EXPECT_EQ(c.tx_errors, 0u);
    // Other addresses' packets are the only drops (raw IPv4 sockets see both directions).
    EXPECT_EQ(c.rx_dropped, c.rx_other_address);
  }
  if (f.v4) {
    EXPECT_GE(passive.counters().rx_other_address, 1u) << "the REP to the active side";
  }

  // Crafted frames at the passive side, each with one defect.
  passive.accept_reqs = false;
  wire::MadBytes mad = crafted_req(f.passive);
  Injector inject(f);
  struct Defect {
    const char* what;
    uint64_t TransportCounters::*counter;
    std::function<void(roce::Datagram&)> change;
    std::function<void(std::span<uint8_t>)> spoil;
    size_t keep = 0;  // send only this many bytes after the UDP header (0: all)
  };
  std::vector<Defect> defects = {
      {"ICRC", &TransportCounters::rx_bad_icrc, {}, [](auto b) { b[b.size() - 1] ^= 1; }},
      {"P_Key of another partition",
       &TransportCounters::rx_bad_pkey,
       [](auto& d) { d.bth.pkey = 0xFFFF; },
       {}},
      {"P_Key 0x0002", &TransportCounters::rx_bad_pkey, [](auto& d) { d.bth.pkey = 0x0002; }, {}},
      {"destination QP 2", &TransportCounters::rx_other_qp, [](auto& d) { d.bth.dest_qp = 2; }, {}},
      {"DETH source QP 5", &TransportCounters::rx_other_qp, [](auto& d) { d.deth.src_qp = 5; }, {}},
      {"RC SEND opcode", &TransportCounters::rx_not_ud, [](auto& d) { d.bth.opcode = 0x04; }, {}},
      {"Q_Key", &TransportCounters::rx_bad_qkey, [](auto& d) { d.deth.qkey = 0x12345678; }, {}},
      {"a packet cut short of its UDP length", &TransportCounters::rx_malformed, {}, {}, 10},
  };
  for (const Defect& x : defects) {
    SCOPED_TRACE(x.what);
    TransportCounters before = passive.counters();
    roce::Datagram d = inject.datagram(mad);
    if (x.change) x.change(d);
    inject.send(d, x.spoil, x.keep);
    EXPECT_TRUE(drive({&passive}, [&] {
      return passive.counters().*x.counter == before.*x.counter + 1;
    })) << "not counted";
    EXPECT_GE(passive.counters().rx_dropped, before.rx_dropped + 1);
    EXPECT_EQ(passive.reqs.size(), 1u) << "a defective frame reached the engine";
  }

  // The good path still works: the same REQ, framed right, from a full member.
  inject.send(inject.datagram(mad));
  ASSERT_TRUE(drive({&passive}, [&] { return passive.reqs.size() == 2; }));
  EXPECT_EQ(passive.reqs[1].req.local_ca_guid, 0x5555u);
  EXPECT_EQ(passive.reqs[1].from.pkey, kFullPkey);
}

bool can_open_raw_sockets() {
  int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

}  // namespace

TEST(RoceTransport, PkeyMatchingFollowsTheIbtaRules) {
  EXPECT_TRUE(pkey_matches(0xFFFF, 0xFFFF));
  EXPECT_TRUE(pkey_matches(0xFFFF, 0x7FFF)) << "full member and limited member";
  EXPECT_TRUE(pkey_matches(0x7FFF, 0xFFFF));
  EXPECT_FALSE(pkey_matches(0x7FFF, 0x7FFF)) << "two limited members";
  EXPECT_TRUE(pkey_matches(0x8001, 0x8001));
  EXPECT_FALSE(pkey_matches(0x8001, 0x8002)) << "another partition";
  EXPECT_FALSE(pkey_matches(0xFFFF, 0x8001));
  EXPECT_FALSE(pkey_matches(0x8000, 0x8000)) << "the invalid P_Key matches nothing";
  EXPECT_FALSE(pkey_matches(0x0000, 0x8000));
}

TEST(RoceTransport, OpenRejectsWhatCannotWork) {
  RoceOptions no_partition;
  no_partition.pkey = 0x8000;
  auto a = RoceTransport::open(*parse_endpoint("::1", 0), no_partition);
  ASSERT_FALSE(a.has_value());
  EXPECT_NE(a.error().find("P_Key"), std::string::npos) << a.error();
  RoceOptions other_port;
  other_port.port = 4792;
  auto b = RoceTransport::open(*parse_endpoint("127.0.0.1", 0), other_port);
  ASSERT_FALSE(b.has_value());
  EXPECT_NE(b.error().find("IPv6 only"), std::string::npos) << b.error();
}

// A second transport on an address and port another one holds fails to open, rather than sharing
// the port and taking some of the first one's datagrams.
TEST(RoceTransport, ASecondTransportOnTheSamePortFailsToOpen) {
  Family f = ipv6_family();
  auto first = RoceTransport::open(f.active, f.active_options);
  ASSERT_TRUE(first.has_value()) << first.error();
  auto second = RoceTransport::open(f.active, f.active_options);
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().find("in use"), std::string::npos) << second.error();
}

TEST(RoceTransport, Ipv6HandshakeAndCountedDropsOnLoopback) {
  handshake_and_drops(ipv6_family());
}

TEST(RoceTransport, Ipv4HandshakeAndCountedDropsOnLoopback) {
  if (!can_open_raw_sockets())
    GTEST_SKIP() << "RoCEv2 over IPv4 needs raw sockets: run as root or with CAP_NET_RAW "
                    "(CI runs as root)";
  handshake_and_drops(ipv4_family());
}

// A raw IPv4 socket takes every UDP datagram on the host until its port filter is attached: those
// that came in before it must not be counted as the new transport's drops. Opened twenty times
// while another thread floods a plain UDP port on loopback; before the fix, most opens counted
// several drops.
TEST(RoceTransport, Ipv4OpenCountsNoDropsFromOtherTraffic) {
  if (!can_open_raw_sockets())
    GTEST_SKIP() << "RoCEv2 over IPv4 needs raw sockets: run as root or with CAP_NET_RAW "
                    "(CI runs as root)";
  int sink = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int src = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(sink, 0);
  ASSERT_GE(src, 0);
  IpEndpoint to = *parse_endpoint("127.0.0.1", 0);
  ASSERT_EQ(::bind(sink, reinterpret_cast<const sockaddr*>(&to.addr), to.len), 0);
  to.len = sizeof(to.addr);
  ::getsockname(sink, reinterpret_cast<sockaddr*>(&to.addr), &to.len);
  std::atomic<bool> stop{false};
  std::thread flood([&] {
    uint8_t b[64] = {};
    while (!stop)
      ::sendto(src, b, sizeof b, 0, reinterpret_cast<const sockaddr*>(&to.addr), to.len);
  });
  const IpEndpoint local = ipv4_family().active;
  uint64_t drops = 0;
  for (int i = 0; i < 20; ++i) {
    auto t = RoceTransport::open(local, {});
    ASSERT_TRUE(t) << t.error();
    std::vector<Received> rx(16);
    (*t)->receive(rx);
    drops += (*t)->counters().rx_dropped;
  }
  stop = true;
  flood.join();
  ::close(src);
  ::close(sink);
  EXPECT_EQ(drops, 0u);
}

// RoceSender on its own (the umad transport's direct sends): from an IPv6 address and a port the
// kernel picks, the packet a RoCEv2 receiver takes, from that address.
TEST(RoceSender, SendsAPacketAReceiverTakesFromAnEphemeralPort) {
  Family f = ipv6_family();
  auto rx = RoceTransport::open(f.passive, f.passive_options);
  ASSERT_TRUE(rx.has_value()) << rx.error();
  auto tx = RoceSender::open(f.active, 0xFFFF, "");
  ASSERT_TRUE(tx.has_value()) << tx.error();
  wire::MadBytes mad{};
  mad[0] = 1;
  mad[1] = 0x07;
  mad[17] = 0x15;
  IpEndpoint to = f.passive;
  to.set_port(f.passive_options.port);
  ASSERT_EQ((*tx)->send(to, mad), 0);
  std::array<Received, 2> in;
  pollfd p{(*rx)->fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  ASSERT_EQ((*rx)->receive(in), 1u) << "bad ICRC " << (*rx)->counters().rx_bad_icrc;
  EXPECT_EQ(in[0].mad, mad);
  EXPECT_EQ(in[0].from.gid, gid_of(f.active));
  EXPECT_EQ(in[0].from.pkey, 0xFFFF);
}
