// The API's edges: what is not supported fails cleanly with one line on stderr, event names, a
// non-blocking channel, synchronous IDs (no channel: each call returns after its event), and
// what a connect the daemon refuses becomes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <rdma/rsocket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "rdmacm/cma_state.h"
#include "rdmacm/program_fixture.h"

namespace ibcm::rdmacm::test {
namespace {

// What a block of code writes on stderr (fd 2), read back through a pipe.
class StderrCapture {
 public:
  StderrCapture() {
    if (::pipe2(pipe_, O_CLOEXEC) != 0) return;
    ::fflush(stderr);
    saved_ = ::dup(2);
    ::dup2(pipe_[1], 2);
  }
  ~StderrCapture() { restore(); }
  // Restores stderr and returns what was written, line by line.
  std::vector<std::string> lines() {
    restore();
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(pipe_[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    ::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
    ::close(pipe_[1]);  // the read end now sees the end of what was written
  }
  int pipe_[2] = {-1, -1};
  int saved_ = -1;

 public:
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;
};

using Api = ProgramTest;

// Multicast, rsockets and the IPoIB port space are not offered: each call fails with the errno an
// application checks for (ENOSYS; EPROTONOSUPPORT for the port space), says so once on stderr
// however often it is called, and leaves the process and its IDs as they were.
TEST_F(Api, UnsupportedCallsFailCleanlyWithOneLine) {
  rdma_cm_id* id = new_id();
  sockaddr_in group = loopback(0);
  group.sin_addr.s_addr = htonl(0xE0000101);  // 224.0.1.1
  StderrCapture err;
  for (int i = 0; i < 2; ++i) {
    errno = 0;
    EXPECT_EQ(rdma_join_multicast(id, as_sockaddr(group), nullptr), -1);
    EXPECT_EQ(errno, ENOSYS);
  }
  errno = 0;
  EXPECT_EQ(rdma_leave_multicast(id, as_sockaddr(group)), -1);
  EXPECT_EQ(errno, ENOSYS);
  errno = 0;
  EXPECT_EQ(rsocket(AF_INET, SOCK_STREAM, 0), -1);
  EXPECT_EQ(errno, ENOSYS);
  rdma_cm_id* ud = nullptr;
  errno = 0;
  EXPECT_EQ(rdma_create_id(ch_, &ud, nullptr, RDMA_PS_IPOIB), -1);
  EXPECT_EQ(errno, EPROTONOSUPPORT);
  EXPECT_EQ(ud, nullptr);
  std::vector<std::string> lines = err.lines();
  ASSERT_EQ(lines.size(), 3u) << ::testing::PrintToString(lines);
  for (const std::string& l : lines) EXPECT_EQ(l.rfind("librdmacm (ibcm): ", 0), 0u) << l;
  EXPECT_NE(lines[0].find("multicast"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("rsockets"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("RDMA_PS_IPOIB"), std::string::npos) << lines[2];
  // The ID is untouched: it still resolves.
  sockaddr_in dst = loopback(7801);
  EXPECT_EQ(rdma_resolve_addr(id, nullptr, as_sockaddr(dst), 2000), 0) << "errno " << errno;
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_ADDR_RESOLVED, id));
}

// rdma_event_str(3): librdmacm's names, "UNKNOWN EVENT" for anything else.
TEST_F(Api, EventNames) {
  const std::pair<rdma_cm_event_type, const char*> names[] = {
      {RDMA_CM_EVENT_ADDR_RESOLVED, "RDMA_CM_EVENT_ADDR_RESOLVED"},
      {RDMA_CM_EVENT_ADDR_ERROR, "RDMA_CM_EVENT_ADDR_ERROR"},
      {RDMA_CM_EVENT_ROUTE_RESOLVED, "RDMA_CM_EVENT_ROUTE_RESOLVED"},
      {RDMA_CM_EVENT_ROUTE_ERROR, "RDMA_CM_EVENT_ROUTE_ERROR"},
      {RDMA_CM_EVENT_CONNECT_REQUEST, "RDMA_CM_EVENT_CONNECT_REQUEST"},
      {RDMA_CM_EVENT_CONNECT_RESPONSE, "RDMA_CM_EVENT_CONNECT_RESPONSE"},
      {RDMA_CM_EVENT_CONNECT_ERROR, "RDMA_CM_EVENT_CONNECT_ERROR"},
      {RDMA_CM_EVENT_UNREACHABLE, "RDMA_CM_EVENT_UNREACHABLE"},
      {RDMA_CM_EVENT_REJECTED, "RDMA_CM_EVENT_REJECTED"},
      {RDMA_CM_EVENT_ESTABLISHED, "RDMA_CM_EVENT_ESTABLISHED"},
      {RDMA_CM_EVENT_DISCONNECTED, "RDMA_CM_EVENT_DISCONNECTED"},
      {RDMA_CM_EVENT_DEVICE_REMOVAL, "RDMA_CM_EVENT_DEVICE_REMOVAL"},
      {RDMA_CM_EVENT_MULTICAST_JOIN, "RDMA_CM_EVENT_MULTICAST_JOIN"},
      {RDMA_CM_EVENT_MULTICAST_ERROR, "RDMA_CM_EVENT_MULTICAST_ERROR"},
      {RDMA_CM_EVENT_ADDR_CHANGE, "RDMA_CM_EVENT_ADDR_CHANGE"},
      {RDMA_CM_EVENT_TIMEWAIT_EXIT, "RDMA_CM_EVENT_TIMEWAIT_EXIT"},
  };
  for (const auto& [type, name] : names) EXPECT_STREQ(rdma_event_str(type), name);
  EXPECT_STREQ(rdma_event_str(static_cast<rdma_cm_event_type>(99)), "UNKNOWN EVENT");
}

// rdma_get_cm_event(3): with O_NONBLOCK on the channel's fd, no event is EAGAIN; the fd polls
// readable once one is there.
TEST_F(Api, NonBlockingChannel) {
  int flags = ::fcntl(ch_->fd, F_GETFL);
  ASSERT_EQ(::fcntl(ch_->fd, F_SETFL, flags | O_NONBLOCK), 0);
  rdma_cm_event* none = nullptr;
  errno = 0;
  EXPECT_EQ(rdma_get_cm_event(ch_, &none), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(none, nullptr);
  rdma_cm_id* id = new_id();
  sockaddr_in dst = loopback(7802);
  ASSERT_EQ(rdma_resolve_addr(id, nullptr, as_sockaddr(dst), 2000), 0) << "errno " << errno;
  // expect_event polls, then reads without blocking.
  ASSERT_TRUE(expect_event(RDMA_CM_EVENT_ADDR_RESOLVED, id));
  errno = 0;
  EXPECT_EQ(rdma_get_cm_event(ch_, &none), -1);
  EXPECT_EQ(errno, EAGAIN);
}

// A channel destroyed while another thread waits in rdma_get_cm_event on it stays open for that
// thread, as the kernel's does (its blocked read holds the file): rping's event thread, blocked
// as the program exits, must not wake to an error (EBADF) when a late event of an ID the program
// has destroyed comes in, which it would then report with exit(-1). The event of the destroyed
// ID never reaches the thread; one of an ID still on the channel does, and the thread closes the
// channel as it leaves.
TEST_F(Api, DestroyedChannelStaysWithTheThreadWaitingOnIt) {
  rdma_event_channel* ch = rdma_create_event_channel();
  ASSERT_NE(ch, nullptr) << "errno " << errno;
  rdma_cm_id* gone = new_id(ch);
  rdma_cm_id* live = new_id(ch);
  ASSERT_TRUE(gone && live);
  sockaddr_in dst = loopback(7803);
  // gone's ADDR_RESOLVED waits in the channel, unread, when gone is destroyed
  ASSERT_EQ(rdma_resolve_addr(gone, nullptr, as_sockaddr(dst), 2000), 0) << "errno " << errno;
  ASSERT_EQ(destroy(gone), 0);
  int got = -2;
  rdma_cm_event_type type{};
  rdma_cm_id* of = nullptr;
  std::thread reader([&] {
    rdma_cm_event* e = nullptr;
    got = rdma_get_cm_event(ch, &e);
    if (got == 0) {
      type = e->event;
      of = e->id;
      rdma_ack_cm_event(e);
    }
  });
  auto inside = [&] {
    std::lock_guard lock(priv(ch)->mu);
    return priv(ch)->readers == 1;
  };
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!inside() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  if (!inside()) {  // the channel is not the reader's to keep: wake it before failing
    ASSERT_EQ(rdma_resolve_addr(live, nullptr, as_sockaddr(dst), 2000), 0) << "errno " << errno;
    reader.join();
    FAIL() << "the reader was never seen waiting";
  }
  int fd = ch->fd;
  rdma_destroy_event_channel(ch);
  EXPECT_NE(::fcntl(fd, F_GETFD), -1) << "closed under the waiting thread";
  ASSERT_EQ(rdma_resolve_addr(live, nullptr, as_sockaddr(dst), 2000), 0) << "errno " << errno;
  reader.join();
  EXPECT_EQ(got, 0) << "errno " << errno;
  EXPECT_EQ(type, RDMA_CM_EVENT_ADDR_RESOLVED);
  EXPECT_EQ(of, live);  // not gone's
  errno = 0;
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);  // closed by the thread as it left
  EXPECT_EQ(errno, EBADF);
}

// An ID created without a channel is synchronous (rdma_create_id(3)): the library makes its
// channel, and rdma_resolve_addr / rdma_resolve_route / rdma_connect return once their event has
// come, keeping it in id->event as librdmacm does.
TEST_F(Api, SynchronousId) {
  rdma_cm_id* id = new_id(nullptr);
  ASSERT_NE(id, nullptr);
  ASSERT_NE(id->channel, nullptr);
  sockaddr_in dst = loopback(7803);
  ASSERT_EQ(rdma_resolve_addr(id, nullptr, as_sockaddr(dst), 2000), 0) << "errno " << errno;
  ASSERT_NE(id->event, nullptr);
  EXPECT_EQ(id->event->event, RDMA_CM_EVENT_ADDR_RESOLVED);
  EXPECT_EQ(rdma_get_dst_port(id), htons(7803));
  EXPECT_FALSE(event_waiting(id->channel));  // taken by the call
  ASSERT_EQ(rdma_resolve_route(id, 2000), 0) << "errno " << errno;
  ASSERT_NE(id->event, nullptr);
  EXPECT_EQ(id->event->event, RDMA_CM_EVENT_ROUTE_RESOLVED);
  EXPECT_EQ(id->route.num_paths, 1);
  // Nobody listens on 7803: REJECTED, which a synchronous rdma_connect reports as ECONNREFUSED
  // (librdmacm's ucma_complete), the event kept with its status.
  rdma_conn_param p = no_qp(0x1803, "");
  EXPECT_EQ(rdma_connect(id, &p), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  ASSERT_NE(id->event, nullptr);
  EXPECT_EQ(id->event->event, RDMA_CM_EVENT_REJECTED);
  EXPECT_EQ(id->event->status, 8);
}

// A synchronous rdma_connect without a QP returns once the REP is in (CONNECT_RESPONSE in
// id->event, as librdmacm's ucma_complete takes any event without a status); the program then
// completes it with rdma_establish(3).
TEST_F(Api, SynchronousConnectWithoutQp) {
  PeerProcess peer(nodes().b->socket());
  ASSERT_TRUE(peer.ready());
  ASSERT_EQ(peer.ask("listen 7804"), "ok");
  rdma_cm_id* id = new_id(nullptr);
  ASSERT_NE(id, nullptr);
  sockaddr_in dst = loopback(7804);
  ASSERT_EQ(rdma_resolve_addr(id, nullptr, as_sockaddr(dst), 2000), 0) << "errno " << errno;
  ASSERT_EQ(rdma_resolve_route(id, 2000), 0) << "errno " << errno;
  // The peer takes the request and accepts it from its own process while this call waits.
  ASSERT_TRUE(peer.send("event"));
  ASSERT_TRUE(peer.send("accept 0x2804 " + hex("done")));
  rdma_conn_param p = no_qp(0x1804, "sync");
  ASSERT_EQ(rdma_connect(id, &p), 0) << "errno " << errno;
  ASSERT_NE(id->event, nullptr);
  EXPECT_EQ(id->event->event, RDMA_CM_EVENT_CONNECT_RESPONSE) << rdma_event_str(id->event->event);
  EXPECT_EQ(id->event->status, 0);
  EXPECT_EQ(id->event->param.conn.qp_num, 0x2804u);
  EXPECT_EQ(event_name(peer.line().value_or("")), "RDMA_CM_EVENT_CONNECT_REQUEST");
  EXPECT_EQ(peer.line(), "ok");
  ASSERT_EQ(rdma_establish(id), 0) << "errno " << errno;
  EXPECT_EQ(event_name(peer.ask("event")), "RDMA_CM_EVENT_ESTABLISHED");
}

// A synchronous listener: rdma_get_request(3) returns the request's ID, itself synchronous (its
// own channel), with the CONNECT_REQUEST in id->event; a synchronous rdma_accept without a QP
// returns once the peer's RTU made the connection ESTABLISHED.
TEST_F(Api, SynchronousListenerGetRequest) {
  rdma_cm_id* listener = new_id(nullptr);
  ASSERT_NE(listener, nullptr);
  sockaddr_in addr = loopback(7805);
  ASSERT_EQ(rdma_bind_addr(listener, as_sockaddr(addr)), 0) << "errno " << errno;
  ASSERT_EQ(rdma_listen(listener, 4), 0) << "errno " << errno;
  PeerProcess peer(nodes().b->socket());
  ASSERT_TRUE(peer.connect(7805, "0x3805", hex("get me")));

  rdma_cm_id* conn = nullptr;
  ASSERT_EQ(rdma_get_request(listener, &conn), 0) << "errno " << errno;
  ASSERT_NE(conn, nullptr);
  own(conn);
  ASSERT_NE(conn->event, nullptr);
  EXPECT_EQ(conn->event->event, RDMA_CM_EVENT_CONNECT_REQUEST);
  EXPECT_EQ(conn->event->listen_id, listener);
  EXPECT_EQ(conn->event->param.conn.qp_num, 0x3805u);
  EXPECT_EQ(private_hex(*conn->event), padded_hex("get me", 56));
  EXPECT_NE(conn->channel, nullptr);
  EXPECT_NE(conn->channel, listener->channel);

  ASSERT_TRUE(peer.send("event"));
  ASSERT_TRUE(peer.send("establish"));
  rdma_conn_param p = no_qp(0x4805, "");
  ASSERT_EQ(rdma_accept(conn, &p), 0) << "errno " << errno;
  ASSERT_NE(conn->event, nullptr);
  EXPECT_EQ(conn->event->event, RDMA_CM_EVENT_ESTABLISHED) << rdma_event_str(conn->event->event);
  EXPECT_EQ(event_name(peer.line().value_or("")), "RDMA_CM_EVENT_CONNECT_RESPONSE");
  EXPECT_EQ(peer.line(), "ok");
}

// Connection calls on an ID that has no connection fail EINVAL, as the kernel's rdma_cm answers
// them, and post nothing.
TEST_F(Api, ConnectionCallsOnAnIdleIdFailEinval) {
  rdma_cm_id* id = new_id();
  rdma_conn_param p = no_qp(0x1806, "");
  errno = 0;
  EXPECT_EQ(rdma_connect(id, &p), -1);  // no route resolved
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(rdma_accept(id, &p), -1);  // not a request's ID
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(rdma_reject(id, nullptr, 0), -1);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(rdma_establish(id), -1);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(rdma_disconnect(id), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_FALSE(event_waiting(ch_));
}

// rdma_connect does not wait for the daemon: a REQ the daemon cannot send (here a second
// connection from the same QP number, which the engine refuses) reaches the program as
// UNREACHABLE with the errno in its status, counted and logged by the daemon; a second
// rdma_connect on an ID that has a connection fails EINVAL at once, as the kernel's does.
TEST_F(Api, ConnectTheDaemonRefusesComesAsUnreachable) {
  // The peer holds the first request unanswered, so its QP number stays in use here.
  PeerProcess peer(nodes().b->socket());
  rdma_cm_id* first = new_id();
  rdma_cm_id* second = new_id();
  uint64_t refused = nodes().a->counters().connects_refused;
  rdma_conn_param p = no_qp(0x1807, "");
  std::string req = request_to_peer(peer, 7807, first, p);
  ASSERT_EQ(event_name(req), "RDMA_CM_EVENT_CONNECT_REQUEST") << req;
  errno = 0;
  EXPECT_EQ(rdma_connect(first, &p), -1);
  EXPECT_EQ(errno, EINVAL);
  ASSERT_NO_FATAL_FAILURE(resolve(second, 7807));
  ASSERT_EQ(rdma_connect(second, &p), 0) << "errno " << errno;
  ASSERT_TRUE(expect_event(RDMA_CM_EVENT_UNREACHABLE, second, -EADDRINUSE));
  EXPECT_EQ(nodes().a->counters().connects_refused, refused + 1);
  std::vector<std::string> log = nodes().a->log();
  EXPECT_TRUE(std::any_of(log.begin(), log.end(), [](const std::string& l) {
    return l.find("no REQ for ID") != std::string::npos;
  })) << ::testing::PrintToString(log);
  // Each has a connection for rdma_disconnect to end (the kernel's answers 0 for both).
  EXPECT_EQ(rdma_disconnect(first), 0);
  EXPECT_EQ(rdma_disconnect(second), 0);
}

}  // namespace
}  // namespace ibcm::rdmacm::test
