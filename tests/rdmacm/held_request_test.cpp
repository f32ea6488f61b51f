// A REQ to a port nobody listens on yet is held for DaemonConfig::listen_grace (200 ms here, the
// default): a listen within it takes the REQ as CONNECT_REQUEST, as if it had come after; the
// others get REJ 8 when the grace ends, which the connecting program sees as REJECTED 8. Counted
// (daemon.reqs_held, daemon.reqs_held_taken).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "rdmacm/program_fixture.h"

namespace ibcm::rdmacm::test {
namespace {

using HeldRequests = ProgramTest;

// Until node A has held more than `before` REQs (false after 5 s).
bool a_holds_more_than(uint64_t before) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (nodes().a->counters().reqs_held == before) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST_F(HeldRequests, ListenWithinTheGraceTakesTheReq) {
  PeerProcess peer(nodes().b->socket());
  uint64_t held = nodes().a->counters().reqs_held;
  uint64_t taken = nodes().a->counters().reqs_held_taken;
  ASSERT_TRUE(peer.connect(7808, "0x1808", hex("early")));
  ASSERT_TRUE(a_holds_more_than(held));
  rdma_cm_id* listener = listen_on(7808);
  ASSERT_NE(listener, nullptr);
  EventPtr req = take_request();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->listen_id, listener);
  EXPECT_EQ(private_hex(*req).substr(0, 10), hex("early"));
  EXPECT_EQ(req->param.conn.qp_num, 0x1808u);
  EXPECT_EQ(nodes().a->counters().reqs_held_taken, taken + 1);
  // An ordinary request from here on: rejecting it reaches the peer.
  ASSERT_EQ(rdma_reject(req->id, nullptr, 0), 0) << "errno " << errno;
  EXPECT_EQ(event_name(peer.ask("event")), "RDMA_CM_EVENT_REJECTED");
}

TEST_F(HeldRequests, NoListenWithinTheGraceIsRej8) {
  PeerProcess peer(nodes().b->socket());
  uint64_t held = nodes().a->counters().reqs_held;
  uint64_t taken = nodes().a->counters().reqs_held_taken;
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(peer.connect(7809, "0x1809"));
  std::string rej = peer.ask("event");
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(event_name(rej), "RDMA_CM_EVENT_REJECTED") << rej;
  EXPECT_EQ(field(rej, "status"), "8") << rej;
  EXPECT_GE(waited, daemon::DaemonConfig{}.listen_grace);
  EXPECT_EQ(nodes().a->counters().reqs_held, held + 1);
  EXPECT_EQ(nodes().a->counters().reqs_held_taken, taken);
}

}  // namespace
}  // namespace ibcm::rdmacm::test
