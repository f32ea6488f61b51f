// Runtime::watch: another descriptor (a verbs completion channel, say) wakes the loop, its handler
// runs on the loop thread with the Cm, and what the handler queued on the Cm is sent at once.
#include <gtest/gtest.h>
#include <unistd.h>

#include "ibcm/transport/runtime.h"
#include "ibcm/transport/udp_transport.h"

using namespace ibcm;
using namespace std::chrono_literals;

TEST(RuntimeWatch, AReadableFdRunsItsHandlerAndItsSendsGoOut) {
  auto a = UdpTransport::open(*parse_endpoint("127.0.0.1", 0));
  auto b = UdpTransport::open(*parse_endpoint("127.0.0.1", 0));
  ASSERT_TRUE(a.has_value() && b.has_value());
  Address to = b.value()->local();
  Config c;
  c.seed = 1;
  Runtime rt(c, std::move(a.value()), {});
  Runtime peer(c, std::move(b.value()), {});
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  int calls = 0;
  ASSERT_TRUE(rt.watch(fds[0], [&](Cm& cm, Time now) {
    ++calls;
    char byte;
    ASSERT_EQ(::read(fds[0], &byte, 1), 1);
    SidrParams p;
    p.service_id = 0x1234;
    p.dest = to;
    ASSERT_TRUE(cm.sidr_request(now, p).has_value());
  }));
  ASSERT_TRUE(rt.run_once(0ms));
  EXPECT_EQ(calls, 0) << "not readable yet";
  ASSERT_EQ(::write(fds[1], "x", 1), 1);
  ASSERT_TRUE(rt.run_once(1000ms));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(rt.transport().counters().tx_packets, 1u) << "the SIDR_REQ went out in the same round";
  ASSERT_TRUE(peer.run_once(1000ms));
  EXPECT_EQ(peer.transport().counters().rx_packets, 1u);
  ASSERT_TRUE(rt.run_once(0ms));
  EXPECT_EQ(calls, 1) << "the handler consumed what made the fd readable";
  ::close(fds[0]);
  ::close(fds[1]);
}
