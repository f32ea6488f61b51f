// `ibcm listen --count N` once its N-th connection has ended: it stays while a peer whose DREQ it
// answered may still retry that DREQ (the DREP lost), as long as the peer's REQ says it retries,
// and answers such a retry with a DREP; then it exits by itself. --linger caps the wait. The peer
// here is played by hand over MAD-over-UDP, so that its DREP can be "lost" (never read).
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "ibcm/engine/params.h"
#include "ibcm/transport/rdma_cm_params.h"
#include "ibcm/transport/udp_transport.h"
#include "ibcm/wire/mad.h"
#include "tools/cli_process.h"

namespace {

using namespace ibcm;
using ibcm::test::CliProcess;
using namespace std::chrono_literals;

// UDP ports for this process, apart from the other CLI tests' (20000+, 42000+).
int port_base() {
  return 46000 + static_cast<int>(::getpid() % 1000) * 4;
}

constexpr uint16_t kPort = 7174;

// A peer that connects to the listener and disconnects, one MAD at a time.
class Peer {
 public:
  Peer(int port, int listener_port) {
    auto t = UdpTransport::open(*parse_endpoint("127.0.0.1", static_cast<uint16_t>(port)));
    if (t) t_ = std::move(t.value());
    listener_ = *parse_endpoint("127.0.0.1", static_cast<uint16_t>(listener_port));
  }
  bool ok() const { return t_ != nullptr; }

  // Our REQ, with the retry timing given: the CM response time it asks of the listener and its
  // MaxCMRetries (its local ACK timeout 12: two packet lifetimes of 8.4 ms each).
  void send_req(uint8_t remote_response_timeout, uint8_t max_retries) {
    std::array<uint8_t, 92> pd{};
    ConnectParams p =
        rdma_cm_connect_params(t_->endpoint(), listener_, kPort, 40000, kQpn, 0x1234, {}, pd);
    p.remote_cm_response_timeout = remote_response_timeout;
    p.max_cm_retries = max_retries;
    p.primary.local_ack_timeout = 12;
    send(req_of(p, kOurs, 0x0200000000000009, 14), 1);
  }
  void send(const wire::Message& m, uint64_t tid) {
    Transmit tx;
    tx.to = address_of(listener_);
    wire::encode(wire::make_mad(m, tid), tx.mad);
    t_->send(std::span<const Transmit>(&tx, 1));
  }
  // The next MAD of type M from the listener within `limit` (others are skipped).
  template <class M>
  std::optional<M> next(std::chrono::milliseconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      std::array<Received, 8> in;
      size_t n = t_->receive(in);
      for (size_t i = 0; i < n; ++i) {
        auto mad = wire::decode(std::span<const uint8_t>(in[i].mad.data(), in[i].length));
        if (mad && std::holds_alternative<M>(mad->message)) return std::get<M>(mad->message);
      }
      if (n > 0) continue;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{t_->fd(), POLLIN, 0};
      (void)::poll(&p, 1, static_cast<int>(left.count()));
    }
  }
  // REQ, REP, RTU; then our DREQ, whose DREP is "lost" (read and forgotten). The listener's comm
  // ID, 0 if the handshake failed.
  uint32_t connect_and_disconnect(uint8_t remote_response_timeout, uint8_t max_retries) {
    send_req(remote_response_timeout, max_retries);
    auto rep = next<wire::Rep>(5000ms);
    if (!rep) return 0;
    wire::Rtu rtu;
    rtu.local_comm_id = kOurs;
    rtu.remote_comm_id = rep->local_comm_id;
    send(rtu, 1);
    send(dreq(rep->local_comm_id, rep->local_qpn), 2);
    if (!next<wire::Drep>(5000ms)) return 0;
    their_qpn_ = rep->local_qpn;
    return rep->local_comm_id;
  }
  wire::Dreq dreq(uint32_t theirs, uint32_t their_qpn) const {
    wire::Dreq d;
    d.local_comm_id = kOurs;
    d.remote_comm_id = theirs;
    d.remote_qpn = their_qpn;
    return d;
  }
  uint32_t their_qpn() const { return their_qpn_; }

 private:
  static constexpr uint32_t kOurs = 0x5eed0001;
  static constexpr uint32_t kQpn = 0x4242;
  std::unique_ptr<UdpTransport> t_;
  IpEndpoint listener_;
  uint32_t their_qpn_ = 0;
};

std::string listen_args(int port, const std::string& more = "") {
  return "listen --transport udp --local 127.0.0.1:" + std::to_string(port) + " --port " +
         std::to_string(kPort) + " --count 1 --json" + more;
}

// The "seconds" of the "lingering" line, -1 if there is none.
double lingering_seconds(const std::vector<std::string>& lines) {
  for (const auto& l : lines) {
    if (l.find("\"event\":\"lingering\"") == std::string::npos) continue;
    auto at = l.find("\"seconds\":");
    return at == std::string::npos ? -1 : std::atof(l.c_str() + at + 10);
  }
  return -1;
}

TEST(ListenLinger, AfterItsCountTheListenerAnswersTheDreqAPeerMayStillRetry) {
  int p = port_base();
  CliProcess listener(listen_args(p));
  ASSERT_TRUE(listener.wait_for("\"listening\"", 10s));
  Peer peer(p + 1, p);
  ASSERT_TRUE(peer.ok());
  // The peer may retry its DREQ 3 times, 2^20 x 4.096 us (4.3 s) and two packet lifetimes apart:
  // for up to 4 x 4.31 s = 17.2 s after the first.
  uint32_t theirs = peer.connect_and_disconnect(20, 3);
  ASSERT_NE(theirs, 0u);
  // Its one connection is over (TIMEWAIT, 16.8 ms, has ended), but the listener stays ...
  ASSERT_TRUE(listener.wait_for("\"timewait_exit\"", 10s));
  ASSERT_TRUE(listener.wait_for("\"lingering\"", 10s));
  // ... and answers the DREQ again, for a connection it no longer has.
  peer.send(peer.dreq(theirs, peer.their_qpn()), 3);
  auto drep = peer.next<wire::Drep>(5000ms);
  ASSERT_TRUE(drep.has_value());
  EXPECT_EQ(drep->local_comm_id, theirs);
  EXPECT_EQ(drep->remote_comm_id, 0x5eed0001u);
  auto r = listener.terminate();  // the peer is done: no need to wait out its retries
  EXPECT_EQ(r.exit_code, 0);
  double s = lingering_seconds(r.lines);
  EXPECT_GT(s, 0);
  EXPECT_LE(s, 4 * (4.096e-6 * (1 << 20) + 2 * 4.096e-6 * (1 << 11)) + 0.001);
}

TEST(ListenLinger, TheListenerExitsByItselfOnceThePeerCannotRetry) {
  int p = port_base() + 2;
  CliProcess listener(listen_args(p));
  ASSERT_TRUE(listener.wait_for("\"listening\"", 10s));
  Peer peer(p + 1, p);
  ASSERT_TRUE(peer.ok());
  // 2 retries, 2^14 x 4.096 us (67 ms) and two packet lifetimes apart: 3 x 84 ms.
  ASSERT_NE(peer.connect_and_disconnect(14, 2), 0u);
  auto r = listener.finish();
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_GT(lingering_seconds(r.lines), 0);
}

TEST(ListenLinger, LingerCapsTheWait) {
  int p = port_base();
  // --linger 0: the listener exits as its count is reached, as a harness whose peer is gone
  // anyway may ask.
  CliProcess listener(listen_args(p, " --linger 0"));
  ASSERT_TRUE(listener.wait_for("\"listening\"", 10s));
  Peer peer(p + 1, p);
  ASSERT_TRUE(peer.ok());
  ASSERT_NE(peer.connect_and_disconnect(20, 15), 0u);  // Linux's timing: 103 s of retries
  auto r = listener.finish();
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(lingering_seconds(r.lines), -1);  // it never waited
}

}  // namespace
