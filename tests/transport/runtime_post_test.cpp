// Runtime::post holds at most RuntimeOptions::max_pending_tasks tasks: a loop that has stopped or
// stalled cannot make other threads queue without bound. Single-threaded: the loop does not run
// until the test calls run_once.
#include <gtest/gtest.h>

#include "ibcm/transport/runtime.h"
#include "ibcm/transport/udp_transport.h"

using namespace ibcm;
using namespace std::chrono_literals;

TEST(RuntimePost, AFullQueueRefusesTasksUntilTheLoopRuns) {
  auto t = UdpTransport::open(*parse_endpoint("127.0.0.1", 0));
  ASSERT_TRUE(t.has_value()) << t.error();
  Config c;
  c.seed = 1;
  RuntimeOptions options;
  options.max_pending_tasks = 3;
  Runtime rt(c, std::move(t.value()), options);
  int ran = 0;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(rt.post([&](Cm&, Time) { ++ran; }).has_value()) << i;
  auto full = rt.post([&](Cm&, Time) { ran += 100; });
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error(), Error::LimitReached);
  EXPECT_EQ(ran, 0);
  ASSERT_TRUE(rt.run_once(0ms));
  EXPECT_EQ(ran, 3) << "the refused task was dropped, the others ran";
  EXPECT_TRUE(rt.post([&](Cm&, Time) { ++ran; }).has_value()) << "room again";
  ASSERT_TRUE(rt.run_once(0ms));
  EXPECT_EQ(ran, 4);
}
