// Two "nodes" in the test process, each a real `ibcm daemon` (CmDaemon) on its own Runtime and
// thread, their engines talking MAD-over-UDP on 127.0.0.1: no RDMA device, no privilege. The test
// process is a program of node A (its librdmacm talks to A's socket, $IBCM_SOCKET); the helper
// program rdmacm_peer is a program of node B (its own process, since the library keeps one
// command socket per process).
//
// Why two daemons rather than one program connecting to its own listener: two nodes are what an
// rdma_cm program sees in the lab (and what the kernel CM would be on the far side), and each
// daemon's counters then say what happened on that node alone.
//
// The daemon addresses a peer by GID only (Address::port 0: RoCE and umad have no port), while
// MAD-over-UDP needs the peer's UDP port. Both nodes are 127.0.0.1, so each node's transport
// sends what is addressed to port 0 to the other node's UDP port; replies go back to where MADs
// came from, which already names a real port.
#pragma once

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ibcm/daemon/cm_daemon.h"
#include "ibcm/transport/runtime.h"
#include "ibcm/transport/udp_transport.h"

namespace ibcm::rdmacm::test {

// The UDP transport, with MADs for port 0 sent to the other node's port.
class PeerPortTransport final : public Transport {
 public:
  PeerPortTransport(std::unique_ptr<UdpTransport> udp, uint16_t peer_port)
      : udp_(std::move(udp)), peer_port_(peer_port) {}
  int fd() const override { return udp_->fd(); }
  size_t receive(std::span<Received> out) override { return udp_->receive(out); }
  void send(std::span<const Transmit> batch) override {
    out_.assign(batch.begin(), batch.end());
    for (Transmit& t : out_)
      if (t.to.port == 0) t.to.port = peer_port_;
    udp_->send(out_);
  }
  Address local() const override { return udp_->local(); }
  const TransportCounters& counters() const override { return udp_->counters(); }
  std::string name() const override { return udp_->name(); }

 private:
  std::unique_ptr<UdpTransport> udp_;
  uint16_t peer_port_;
  std::vector<Transmit> out_;
};

// The served port: device "ibcmtest0" (no such device opens, so the library's id->verbs stays
// NULL, as a program without QPs would see on a device it cannot open), one RoCEv2 GID for
// ::ffff:127.0.0.1.
daemon::ServedPort loopback_port();

class NodeDaemon {
 public:
  // transport: the node's UDP transport, already wrapped; socket: where programs reach it; seed:
  // the engine's randomness (communication IDs); config: its programs' CM timeouts.
  NodeDaemon(std::unique_ptr<Transport> transport, uint64_t ca_guid, uint64_t seed,
             const std::string& socket, daemon::DaemonConfig config = {});
  // The daemon ends its programs' connections (DREQ, REJ) and closes their sockets and channels;
  // then the loop stops.
  ~NodeDaemon();
  NodeDaemon(const NodeDaemon&) = delete;
  NodeDaemon& operator=(const NodeDaemon&) = delete;

  bool ok() const { return daemon_ != nullptr; }
  const std::string& socket() const { return socket_; }
  // The daemon's counters, read on its loop thread.
  daemon::DaemonCounters counters();
  // What the daemon logged (programs that left, refused requests), instead of stderr.
  std::vector<std::string> log();

 private:
  std::string socket_;
  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<daemon::CmDaemon> daemon_;
  std::thread loop_;
  std::mutex mu_;
  std::vector<std::string> log_;
};

// The nodes and their sockets' temp dir, made once per test process (a gtest environment):
// $IBCM_SOCKET is set to A's socket before any test calls the library.
struct Nodes {
  std::string dir;
  std::unique_ptr<NodeDaemon> a;  // the test process's node
  std::unique_ptr<NodeDaemon> b;  // the peer program's node
  // Node B after a reboot: B's CA GUID, a fresh engine (other communication IDs) that knows
  // nothing of B's connections; its REQs go to A.
  std::unique_ptr<NodeDaemon> b_rebooted;
  uint16_t a_port = 0;  // A's UDP port
};
Nodes& nodes();
// Another node for a test (its socket NAME.sock in the nodes' dir) whose REQs go to A's UDP port,
// or to `peer_port`.
std::unique_ptr<NodeDaemon> make_node(uint64_t ca_guid, uint64_t seed, const std::string& name,
                                      daemon::DaemonConfig config = {}, uint16_t peer_port = 0);

}  // namespace ibcm::rdmacm::test
