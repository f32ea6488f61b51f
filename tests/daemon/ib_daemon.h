// A daemon serving an InfiniBand port, with no device: its SA client on the fake umad port of
// tests/sa (the SA's answers are the recorded ones of sa_vectors.h), IPoIB addresses from a fake
// lookup, and the engine's MADs on a transport the test reads and writes. The test is the program
// (the daemon's protocol on its socket, as src/rdmacm speaks it) and turns the loop itself:
// run_until waits in the runtime's epoll for what it is told, never sleeps.
#pragma once

#include <gtest/gtest.h>
#include <infiniband/verbs.h>
#include <poll.h>
#include <rdma/rdma_cma.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/fd_passing.h"
#include "daemon/protocol.h"
#include "ibcm/daemon/cm_daemon.h"
#include "ibcm/engine/cm.h"
#include "ibcm/transport/runtime.h"
#include "sa/fake_sa_port.h"

namespace ibcm::daemon::test {

using namespace std::chrono_literals;

// The engine's MADs: what it sent, kept; what the test gives it, read when the loop turns.
class RecordingTransport final : public Transport {
 public:
  RecordingTransport(Address local, std::vector<Transmit>* sent) : local_(local), sent_(sent) {}
  ~RecordingTransport() override { ::close(fd_); }
  int fd() const override { return fd_; }
  size_t receive(std::span<Received> out) override {
    size_t n = 0;
    while (n < out.size() && !rx_.empty()) {
      out[n++] = rx_.front();
      rx_.pop_front();
    }
    uint64_t v;
    if (rx_.empty()) (void)!::read(fd_, &v, sizeof v);
    return n;
  }
  void send(std::span<const Transmit> batch) override {
    sent_->insert(sent_->end(), batch.begin(), batch.end());
  }
  Address local() const override { return local_; }
  const TransportCounters& counters() const override { return counters_; }
  std::string name() const override { return "recording"; }
  // A MAD from `from`, whole.
  void push(const Address& from, const wire::MadBytes& mad) {
    rx_.push_back(Received{from, mad, static_cast<uint16_t>(mad.size())});
    uint64_t one = 1;
    (void)!::write(fd_, &one, sizeof one);
  }

 private:
  Address local_;
  std::vector<Transmit>* sent_;
  std::deque<Received> rx_;
  int fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  TransportCounters counters_;
};

// The IPoIB hardware address of a port GID (QPN 0x48 in bytes 1..3, as ipoib shows it).
inline IpoibAddress ipoib_address(const wire::Gid& gid) {
  IpoibAddress a{0x00, 0x00, 0x00, 0x48};
  std::copy(gid.begin(), gid.end(), a.begin() + 4);
  return a;
}

// Our port as tests/sa's fabric has it: GID fe80::248a:703:49:d4f0 at index 0, LID 3, the full
// default partition; our IPoIB netdev holds 127.0.0.1, and the peer's IPoIB address
// (fe80::248a:703:49:d4f8) answers 127.0.0.2 — loopback addresses, so that the kernel's routing
// table picks the source as it would on ib0.
struct IbDaemon {
  explicit IbDaemon(sa::QueryOptions options = {}) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ibcm-ibd-XXXXXX").string();
    EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir = tmpl;
    ServedPort port;
    port.device = "ibtest0";
    port.link_layer = IBV_LINK_LAYER_INFINIBAND;
    port.active_mtu = wire::Mtu::Mtu4096;
    port.gids = {umad::GidEntry{0, sa::test::kOurGid, umad::GidType::IbRoceV1, ""}};
    port.pkeys = {0xFFFF};
    DaemonConfig config;
    config.ipoib.netdev_of = [](const IpEndpoint& src) -> std::optional<IpoibNetdev> {
      if (gid_of(src) != gid_of(*parse_endpoint("127.0.0.1", 0))) return std::nullopt;
      // The broadcast address of the default partition: P_Key 0xffff in bytes 8..9.
      IpoibAddress broadcast{0x00, 0xff, 0xff, 0xff, 0xff, 0x12, 0x40, 0x1b, 0xff, 0xff,
                             0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff};
      return IpoibNetdev{ipoib_address(sa::test::kOurGid), broadcast};
    };
    config.ipoib.neighbour = [this](const IpEndpoint& dst) -> std::optional<IpoibAddress> {
      if (!peer_known || gid_of(dst) != gid_of(*parse_endpoint("127.0.0.2", 0)))
        return std::nullopt;
      return ipoib_address(sa::test::kPeerGid);
    };
    config.open_path_client =
        [this,
         options](const ServedPort&) -> Expected<std::unique_ptr<sa::PathClient>, std::string> {
      ++sa_opens;
      if (!sa_error.empty()) return Unexpected{sa_error};
      auto c = sa::PathClient::open(std::make_unique<sa::test::FakeSaPort>(sa_port),
                                    sa::SaAddress{1, 0, 0}, options);
      if (!c) return Unexpected{c.error().message};
      return std::move(*c);
    };
    Config c;
    c.ca_guid = 0x248a07030049d4f0;
    c.seed = 1;
    Address local;
    local.gid = sa::test::kOurGid;
    local.lid = 3;
    auto t = std::make_unique<RecordingTransport>(local, &sent);
    transport = t.get();
    rt = std::make_unique<Runtime>(c, std::move(t));
    auto d = CmDaemon::open(*rt, port, dir + "/cm.sock", config);
    EXPECT_TRUE(d.has_value()) << (d ? "" : d.error());
    if (!d) return;
    daemon = std::move(*d);
    daemon->set_log([this](const std::string& line) { log.push_back(line); });
    rt->on_event([this](Cm& cm, Time now, const Event& e) { daemon->on_event(cm, now, e); });
    connect_program();
  }
  ~IbDaemon() {
    if (program >= 0) ::close(program);
    if (channel >= 0) ::close(channel);
    daemon.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  // Turns the loop until `done` (at most 5 s of waiting in it).
  bool run_until(const std::function<bool()>& done) {
    for (int i = 0; i < 500 && !done(); ++i) rt->run_once(10ms);
    return done();
  }
  static bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
  }

  // One request and its reply (the loop turns until the daemon has answered).
  proto::Reply call(proto::Request r, int* fd = nullptr) {
    r.seq = ++seq;
    EXPECT_EQ(::send(program, &r, sizeof r, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof r));
    proto::Reply out;
    EXPECT_TRUE(run_until([&] { return readable(program); }));
    EXPECT_EQ(recv_with_fd(program, &out, sizeof out, fd), static_cast<ssize_t>(sizeof out));
    return out;
  }
  // The next event on the program's channel.
  std::optional<proto::Event> next_event() {
    if (!run_until([&] { return readable(channel); })) return std::nullopt;
    proto::Event e;
    if (::recv(channel, &e, sizeof e, 0) != static_cast<ssize_t>(sizeof e)) return std::nullopt;
    return e;
  }

  // The next MAD the peer's CM (at `from`) sends, to the daemon's engine; then the program's
  // next event.
  std::optional<proto::Event> from_peer(Cm& peer, const Address& from) {
    auto t = peer.poll_transmit();
    EXPECT_TRUE(t);
    if (!t) return std::nullopt;
    transport->push(from, t->mad);
    return next_event();
  }

  // A program with one channel and one RC ID in the TCP port space.
  void connect_program() {
    program = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s/cm.sock", dir.c_str());
    ASSERT_EQ(::connect(program, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    proto::Request r;
    r.op = proto::Op::CreateChannel;
    proto::Reply ch = call(r, &channel);
    ASSERT_EQ(ch.err, 0);
    ASSERT_GE(channel, 0);
    r.op = proto::Op::CreateId;
    r.channel = ch.id;
    r.port_space = RDMA_PS_TCP;
    r.qp_type = IBV_QPT_RC;
    proto::Reply made = call(r);
    ASSERT_EQ(made.err, 0);
    id = made.id;
  }
  proto::Request request(proto::Op op) const {
    proto::Request r;
    r.op = op;
    r.id = id;
    return r;
  }
  // rdma_resolve_addr to 127.0.0.2:7471: the reply's error (the event follows).
  int resolve_addr() {
    proto::Request r = request(proto::Op::ResolveAddr);
    IpEndpoint dst = *parse_endpoint("127.0.0.2", 7471);
    r.dst = dst.addr;
    r.arg = 2000;
    return call(r).err;
  }
  int resolve_route() {
    proto::Request r = request(proto::Op::ResolveRoute);
    r.arg = 2000;
    return call(r).err;
  }

  std::string dir;
  std::shared_ptr<umad::test::FakePortState> sa_port = sa::test::fake_ib_port();
  std::string sa_error;  // the SA client does not open, with this line
  int sa_opens = 0;
  bool peer_known = true;  // the neighbour table holds 127.0.0.2
  std::vector<Transmit> sent;
  RecordingTransport* transport = nullptr;
  std::unique_ptr<Runtime> rt;
  std::unique_ptr<CmDaemon> daemon;
  std::vector<std::string> log;
  int program = -1;
  int channel = -1;
  uint32_t id = 0;
  uint32_t seq = 0;
};

}  // namespace ibcm::daemon::test
