// Two programs at once on one node (issue 16, item 2), as with the kernel CM: each has its own
// IDs, events and ports, and one killed mid-connection ends its own connection only; the daemon's
// live counters follow each program and keep nothing of one that is gone.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <tuple>

#include "rdmacm/program_fixture.h"

namespace ibcm::rdmacm::test {
namespace {

using TwoPrograms = ProgramTest;

TEST_F(TwoPrograms, EachItsOwnThenOneKilled) {
  PeerProcess first(nodes().b->socket());
  PeerProcess second(nodes().b->socket());
  rdma_cm_id* to_first = new_id();
  std::string req = request_to_peer(first, 7761, to_first, no_qp(0x1761, "one"));
  EXPECT_EQ(field(req, "qpn"), std::to_string(0x1761)) << req;
  // A port one program listens on is not another's.
  ASSERT_TRUE(second.ready());
  EXPECT_EQ(second.ask("listen 7761"), "error " + std::to_string(EADDRINUSE));
  rdma_cm_id* to_second = new_id();
  req = request_to_peer(second, 7762, to_second, no_qp(0x1762, "two"));
  // The second program's first event is its own request, not the first's.
  EXPECT_EQ(event_name(req), "RDMA_CM_EVENT_CONNECT_REQUEST") << req;
  EXPECT_EQ(field(req, "qpn"), std::to_string(0x1762)) << req;
  EXPECT_EQ(field(req, "pd"), padded_hex("two", 56));

  for (auto [peer, id, qpn] :
       {std::tuple{&first, to_first, "0x2761"}, std::tuple{&second, to_second, "0x2762"}}) {
    ASSERT_EQ(peer->ask(std::string("accept ") + qpn + " -"), "ok");
    ASSERT_TRUE(expect_event(RDMA_CM_EVENT_CONNECT_RESPONSE, id));
    ASSERT_EQ(rdma_establish(id), 0) << "errno " << errno;
    ASSERT_EQ(event_name(peer->ask("event")), "RDMA_CM_EVENT_ESTABLISHED");
  }

  uint64_t ended = nodes().b->counters().ended_by_exit;
  first.kill();
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_DISCONNECTED, to_first));
  EXPECT_EQ(nodes().b->counters().ended_by_exit, ended + 1);
  // The second program's connection is whole: it hears our DREQ and answers it.
  ASSERT_EQ(rdma_disconnect(to_second), 0) << "errno " << errno;
  EXPECT_EQ(event_name(second.ask("event")), "RDMA_CM_EVENT_DISCONNECTED");
  ASSERT_EQ(second.ask("disconnect"), "ok");
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_DISCONNECTED, to_second));
  EXPECT_EQ(second.quit(), 0);
}

// Node B's counters once no program is connected there any more (the peers of earlier tests
// are killed as they end, and B hears of it a moment later); a failure after 5 s.
daemon::DaemonCounters b_without_programs() {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  daemon::DaemonCounters c = nodes().b->counters();
  while (c.programs != 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
    c = nodes().b->counters();
  }
  EXPECT_EQ(c.programs, 0u) << "node B still serves programs of earlier tests";
  return c;
}

// What `ibcm daemon --stats` reports as daemon.programs_live, ids_live, listeners_live and
// connections_live follows a program's IDs, and is back to nothing once the program is killed
// holding a listener and a connection: the daemon keeps nothing of it.
TEST_F(TwoPrograms, LiveCountersFollowAProgramAndFallBackWhenItIsKilled) {
  const daemon::DaemonCounters before = b_without_programs();
  EXPECT_EQ(before.ids_live, 0u);
  EXPECT_EQ(before.listeners_live, 0u);
  EXPECT_EQ(before.connections_live, 0u);
  PeerProcess peer(nodes().b->socket());
  rdma_cm_id* id = new_id();
  ASSERT_TRUE(connect_to_peer(peer, 7763, id, no_qp(0x1763, "live"), "0x2763"));
  const daemon::DaemonCounters live = nodes().b->counters();
  EXPECT_EQ(live.programs, 1u);
  EXPECT_EQ(live.ids_live, 2u);  // its listener and the connection's ID
  EXPECT_EQ(live.listeners_live, 1u);
  EXPECT_EQ(live.connections_live, 1u);

  peer.kill();
  // B's DREQ for the killed program's connection: sent once B has ended all it held.
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_DISCONNECTED, id));
  const daemon::DaemonCounters after = nodes().b->counters();
  EXPECT_EQ(after.programs, 0u);
  EXPECT_EQ(after.ids_live, 0u);
  EXPECT_EQ(after.listeners_live, 0u);
  EXPECT_EQ(after.connections_live, 0u);
  EXPECT_EQ(after.programs_seen, before.programs_seen + 1);
}

}  // namespace
}  // namespace ibcm::rdmacm::test
