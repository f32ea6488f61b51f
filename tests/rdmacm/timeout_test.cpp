// CM timeouts as a program sees them (rdma_get_cm_event(3); issue 16, item 6), on a node whose
// daemon gives its programs' connections short CM timeouts (DaemonConfig: response timeout 2^8 x
// 4.096 us, two retries; each try then waits 2 x packet lifetime + that, about 0.55 s, so a
// message is given up after about 1.6 s; a SIDR_REQ's try 2^(8-8) ms): a REQ or SIDR_REQ nobody
// answers is UNREACHABLE with status -ETIMEDOUT, a DREQ nobody answers is DISCONNECTED with status
// -ETIMEDOUT, then TIMEWAIT_EXIT. A consumer waiting for either never hangs.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rdmacm/program_fixture.h"

namespace ibcm::rdmacm::test {
namespace {

const daemon::DaemonConfig kShortTimeouts{8, 2};

// A UDP port on 127.0.0.1 that takes MADs and never answers.
class Silent {
 public:
  Silent() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    if (fd_ >= 0 && ::bind(fd_, as_sockaddr(a), sizeof a) == 0 &&
        ::getsockname(fd_, as_sockaddr(a), &len) == 0)
      port_ = ntohs(a.sin_port);
  }
  ~Silent() {
    if (fd_ >= 0) ::close(fd_);
  }
  Silent(const Silent&) = delete;
  Silent& operator=(const Silent&) = delete;
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

using Timeouts = ProgramTest;

// A peer program on a node whose MADs reach only a port that never answers connects (a UD ID
// when `ud`) to `port`: its next event line, or what kept it from connecting.
std::string event_after_unanswered_connect(uint64_t ca_guid, const std::string& node, uint16_t port,
                                           bool ud) {
  Silent nobody;
  if (nobody.port() == 0) return "no silent port";
  std::unique_ptr<NodeDaemon> e = make_node(ca_guid, ca_guid, node, kShortTimeouts, nobody.port());
  if (!e || !e->ok()) return "no node";
  PeerProcess peer(e->socket());
  if (!peer.ready() || (ud && peer.ask("ps udp") != "ok") || !peer.connect(port, "0x5950"))
    return "no connect";
  return peer.ask("event");
}

TEST_F(Timeouts, ReqNobodyAnswersUnreachable) {
  std::string un = event_after_unanswered_connect(0xE1, "e1", 7951, false);
  EXPECT_EQ(event_name(un), "RDMA_CM_EVENT_UNREACHABLE") << un;
  EXPECT_EQ(field(un, "status"), std::to_string(-ETIMEDOUT));
}

// A SIDR_REQ nobody answers (a UD ID's rdma_connect): UNREACHABLE with -ETIMEDOUT, as the
// kernel's cma_sidr_rep_handler reports its CM's SIDR timeout.
TEST_F(Timeouts, SidrNobodyAnswersUnreachable) {
  std::string un = event_after_unanswered_connect(0xE3, "e3", 7953, true);
  EXPECT_EQ(event_name(un), "RDMA_CM_EVENT_UNREACHABLE") << un;
  EXPECT_EQ(field(un, "status"), std::to_string(-ETIMEDOUT));
}

// The peer disconnects and this program does not answer (no rdma_disconnect yet): the peer's
// DREQ times out, DISCONNECTED there with -ETIMEDOUT, then TIMEWAIT_EXIT; here DISCONNECTED as
// the DREQ came, and TIMEWAIT_EXIT once we answer at last.
TEST_F(Timeouts, DreqNobodyAnswersDisconnectedTimedOut) {
  ASSERT_NE(listen_on(7952), nullptr);
  std::unique_ptr<NodeDaemon> e = make_node(0xE2, 6, "e2", kShortTimeouts);
  ASSERT_TRUE(e && e->ok());
  PeerProcess peer(e->socket());
  rdma_cm_id* conn = accept_from_peer(peer, 7952, "0x5952");
  ASSERT_NE(conn, nullptr);

  ASSERT_EQ(peer.ask("disconnect"), "ok");
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_DISCONNECTED, conn));
  std::string dis = peer.ask("event");
  EXPECT_EQ(event_name(dis), "RDMA_CM_EVENT_DISCONNECTED") << dis;
  EXPECT_EQ(field(dis, "status"), std::to_string(-ETIMEDOUT));
  EXPECT_EQ(event_name(peer.ask("event")), "RDMA_CM_EVENT_TIMEWAIT_EXIT");
  ASSERT_EQ(rdma_disconnect(conn), 0) << "errno " << errno;
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_TIMEWAIT_EXIT, conn));
}

}  // namespace
}  // namespace ibcm::rdmacm::test
