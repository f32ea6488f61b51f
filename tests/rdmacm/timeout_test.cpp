// CM timeouts as a program sees them (rdma_get_cm_event(3); issue 16, item 6), on a node whose
// daemon gives its programs' connections short CM timeouts (DaemonConfig: response timeout 2^8 x
// 4.096 us, two retries; each try then waits 2 x packet lifetime + that, about 0.55 s, so a
// message is given up after about 1.6 s): a REQ nobody answers is UNREACHABLE with status
// -ETIMEDOUT, a DREQ nobody answers is DISCONNECTED with status -ETIMEDOUT, then TIMEWAIT_EXIT.
// A consumer waiting for either never hangs.
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

TEST_F(Timeouts, ReqNobodyAnswersUnreachable) {
  Silent nobody;
  ASSERT_NE(nobody.port(), 0);
  std::unique_ptr<NodeDaemon> e = make_node(0xE1, 5, "e1", kShortTimeouts, nobody.port());
  ASSERT_TRUE(e && e->ok());
  PeerProcess peer(e->socket());
  ASSERT_TRUE(peer.connect(7951, "0x5951"));
  std::string un = peer.ask("event");
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
