// Two programs at once on one node (issue 16, item 2), as with the kernel CM: each has its own
// IDs, events and ports, and one killed mid-connection ends its own connection only.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace ibcm::rdmacm::test
