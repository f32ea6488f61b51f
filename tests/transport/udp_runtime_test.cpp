// Two runtimes over MAD-over-UDP on loopback, each on its own thread: a full connect, hold and
// disconnect, with the consumer API used from the test thread through post().
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "ibcm/transport/runtime.h"
#include "ibcm/transport/udp_transport.h"

using namespace ibcm;
using namespace std::chrono_literals;

namespace {

struct Node {
  std::unique_ptr<Runtime> rt;
  std::thread loop;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> events;

  explicit Node(uint64_t guid) {
    auto t = UdpTransport::open(*parse_endpoint("127.0.0.1", 0));
    EXPECT_TRUE(t.has_value()) << (t ? "" : t.error());
    Config c;
    c.ca_guid = guid;
    c.seed = guid;
    rt = std::make_unique<Runtime>(c, std::move(t.value()));
    rt->on_event([this](Cm& cm, Time now, const Event& e) {
      if (auto* req = std::get_if<ev::ReqReceived>(&e)) {
        AcceptParams ap;
        ap.qpn = 0x42;
        EXPECT_TRUE(cm.accept(now, req->conn, ap).has_value());
      } else if (auto* rep = std::get_if<ev::RepReceived>(&e)) {
        EXPECT_TRUE(cm.send_rtu(now, rep->conn).has_value());
      } else if (auto* dreq = std::get_if<ev::DreqReceived>(&e)) {
        EXPECT_TRUE(cm.send_drep(now, dreq->conn).has_value());
      }
      std::lock_guard lock(mu);
      events.emplace_back(event_name(e));
      cv.notify_all();
    });
    loop = std::thread([this] { rt->run(); });
  }
  ~Node() {
    rt->stop();
    loop.join();
  }
  bool wait_for(const std::string& name, std::chrono::seconds limit = 10s) {
    std::unique_lock lock(mu);
    return cv.wait_for(
        lock, limit, [&] { return std::find(events.begin(), events.end(), name) != events.end(); });
  }
};

}  // namespace

TEST(UdpRuntime, ConnectAndDisconnectOverLoopback) {
  Node server(0x1111), client(0x2222);
  Address server_addr = server.rt->transport().local();
  ASSERT_NE(server_addr.port, 0);
  std::promise<void> listening;
  server.rt->post([&](Cm& cm, Time) {
    EXPECT_TRUE(cm.listen(0x1000).has_value());
    listening.set_value();
  });
  ASSERT_EQ(listening.get_future().wait_for(10s), std::future_status::ready);
  ConnId conn = 0;
  std::mutex mu;
  client.rt->post([&](Cm& cm, Time now) {
    ConnectParams p;
    p.service_id = 0x1000;
    p.dest = server_addr;
    p.qpn = 0x77;
    p.packet_life_time = 10;
    p.remote_cm_response_timeout = 12;
    auto c = cm.connect(now, p);
    ASSERT_TRUE(c.has_value());
    std::lock_guard lock(mu);
    conn = *c;
  });
  ASSERT_TRUE(client.wait_for("established"));
  ASSERT_TRUE(server.wait_for("rtu_received"));
  client.rt->post([&](Cm& cm, Time now) {
    std::lock_guard lock(mu);
    EXPECT_TRUE(cm.disconnect(now, conn).has_value());
  });
  ASSERT_TRUE(client.wait_for("drep_received"));
  ASSERT_TRUE(server.wait_for("dreq_received"));
  // TIMEWAIT: the path's local ACK timeout (packet lifetime 10 + 1 = 11: ~8 ms).
  ASSERT_TRUE(client.wait_for("timewait_exit"));
  ASSERT_TRUE(server.wait_for("timewait_exit"));
  EXPECT_EQ(client.rt->transport().counters().tx_errors, 0u);
  EXPECT_GE(server.rt->transport().counters().rx_packets, 3u);
}

TEST(UdpRuntime, ParseEndpointForms) {
  auto v4 = parse_endpoint("198.51.100.1:4791", 1);
  ASSERT_TRUE(v4.has_value());
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->port(), 4791);
  auto v6 = parse_endpoint("[2001:db8::1]:7", 1);
  ASSERT_TRUE(v6.has_value());
  EXPECT_FALSE(v6->is_v4());
  EXPECT_EQ(v6->port(), 7);
  EXPECT_EQ(parse_endpoint("2001:db8::1", 9)->port(), 9);
  EXPECT_FALSE(parse_endpoint("not-an-ip", 1).has_value());
  EXPECT_FALSE(parse_endpoint("1.2.3.4:99999", 1).has_value());
  auto g = gid_of(*v4);
  EXPECT_EQ(g[10], 0xff);
  EXPECT_EQ(g[15], 1);
  EXPECT_EQ(endpoint_of(g, 5).to_string(), "198.51.100.1:5");
}
