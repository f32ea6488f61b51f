#include "rdmacm/node_daemon.h"

#include <stdlib.h>

#include <csignal>
#include <filesystem>

#include "ibcm/transport/ip_address.h"

namespace ibcm::rdmacm::test {

using namespace std::chrono_literals;

daemon::ServedPort loopback_port() {
  daemon::ServedPort p;
  p.device = "ibcmtest0";
  umad::GidEntry e;
  e.index = 1;
  e.gid = gid_of(*parse_endpoint("127.0.0.1", 0));
  e.type = umad::GidType::RoceV2;
  e.ndev = "lo";
  p.gids = {e};
  return p;
}

NodeDaemon::NodeDaemon(std::unique_ptr<Transport> transport, uint64_t ca_guid, uint64_t seed,
                       const std::string& socket, daemon::DaemonConfig config)
    : socket_(socket) {
  Config c;
  c.ca_guid = ca_guid;
  c.seed = seed;
  // TIMEWAIT as the spec computes it from the path is seconds long; a short one lets the tests
  // see TIMEWAIT_EXIT without waiting for it.
  c.timewait = std::chrono::milliseconds(100);
  rt_ = std::make_unique<Runtime>(c, std::move(transport));
  auto d = daemon::CmDaemon::open(*rt_, loopback_port(), socket, config);
  EXPECT_TRUE(d.has_value()) << (d ? "" : d.error());
  if (!d) return;
  daemon_ = std::move(d).value();
  daemon_->set_log([this](const std::string& line) {
    std::lock_guard lock(mu_);
    log_.push_back(line);
  });
  rt_->on_event([this](Cm& cm, Time now, const Event& e) {
    if (daemon_) daemon_->on_event(cm, now, e);  // none once it has ended (the destructor)
  });
  loop_ = std::thread([this] { rt_->run(); });
}

NodeDaemon::~NodeDaemon() {
  if (loop_.joinable()) {
    // The daemon ends on its loop thread, which then sends what that queued (a DREQ for each
    // connection a program held) before it stops: a daemon that stops leaves no peer holding a
    // connection it does not know of.
    auto end = [this](Cm&, Time) {
      daemon_.reset();
      rt_->stop();
    };
    if (!rt_->post(end).has_value()) rt_->stop();
    loop_.join();
  }
  daemon_.reset();  // the loop has stopped: its state is ours to end
}

daemon::DaemonCounters NodeDaemon::counters() {
  std::promise<daemon::DaemonCounters> got;
  auto f = got.get_future();
  EXPECT_TRUE(rt_->post([&](Cm&, Time) { got.set_value(daemon_->counters()); }).has_value());
  EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
  return f.get();
}

std::vector<std::string> NodeDaemon::log() {
  std::lock_guard lock(mu_);
  return log_;
}

namespace {

Nodes g_nodes;

std::unique_ptr<UdpTransport> loopback_udp() {
  auto t = UdpTransport::open(*parse_endpoint("127.0.0.1", 0));
  EXPECT_TRUE(t.has_value()) << (t ? "" : t.error());
  return t ? std::move(t).value() : nullptr;
}

class NodesEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ibcm-rdmacm-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    g_nodes.dir = tmpl;
    auto udp_a = loopback_udp();
    auto udp_b = loopback_udp();
    ASSERT_TRUE(udp_a && udp_b);
    g_nodes.a_port = udp_a->endpoint().port();
    uint16_t port_b = udp_b->endpoint().port();
    g_nodes.a = std::make_unique<NodeDaemon>(
        std::make_unique<PeerPortTransport>(std::move(udp_a), port_b), 0xA, 1, tmpl + "/a.sock");
    g_nodes.b = std::make_unique<NodeDaemon>(
        std::make_unique<PeerPortTransport>(std::move(udp_b), g_nodes.a_port), 0xB, 2,
        tmpl + "/b.sock");
    g_nodes.b_rebooted = make_node(0xB, 3, "b-rebooted");
    // Before the library's first call: it reads $IBCM_SOCKET once, when it first connects.
    ::setenv("IBCM_SOCKET", g_nodes.a->socket().c_str(), 1);
    // A peer program that died must fail the write of a command, not end the test process.
    std::signal(SIGPIPE, SIG_IGN);
  }
  void TearDown() override {
    g_nodes.a.reset();
    g_nodes.b.reset();
    g_nodes.b_rebooted.reset();
    std::error_code ec;
    if (!g_nodes.dir.empty()) std::filesystem::remove_all(g_nodes.dir, ec);
  }
};

[[maybe_unused]] const auto* const g_environment =
    ::testing::AddGlobalTestEnvironment(new NodesEnvironment);

}  // namespace

Nodes& nodes() {
  return g_nodes;
}

std::unique_ptr<NodeDaemon> make_node(uint64_t ca_guid, uint64_t seed, const std::string& name,
                                      daemon::DaemonConfig config, uint16_t peer_port) {
  auto udp = loopback_udp();
  if (!udp) return nullptr;
  return std::make_unique<NodeDaemon>(
      std::make_unique<PeerPortTransport>(std::move(udp), peer_port ? peer_port : g_nodes.a_port),
      ca_guid, seed, g_nodes.dir + "/" + name + ".sock", config);
}

}  // namespace ibcm::rdmacm::test
