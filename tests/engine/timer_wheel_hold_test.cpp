// TimerWheel::advance_while: a timer the caller is not ready for stays armed and due, and the next
// advance fires it and the rest in deadline order.
#include <gtest/gtest.h>

#include <vector>

#include "ibcm/engine/timer_wheel.h"

using ibcm::Time;
using ibcm::TimerWheel;

TEST(TimerWheelHold, NotReadyStopsBeforeTheTimerAndTheNextAdvanceGoesOn) {
  TimerWheel w(Time{0});
  for (uint64_t k = 1; k <= 4; ++k) w.arm(Time{static_cast<int64_t>(k * 100)}, k);
  std::vector<uint64_t> fired;
  size_t budget = 2;
  auto ready = [&] { return budget > 0; };
  auto fire = [&](uint64_t cookie) {
    fired.push_back(cookie);
    --budget;
  };
  EXPECT_EQ(w.advance_while(Time{1000}, ready, fire), 2u);
  EXPECT_EQ(fired, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(w.size(), 2u);
  EXPECT_EQ(w.now(), Time{300});  // at the held timer's deadline
  EXPECT_EQ(w.next_wakeup(), Time{300});

  // A timer armed meanwhile between the cursor and the time asked for keeps its place in order.
  w.arm(Time{350}, 5);
  budget = 10;
  EXPECT_EQ(w.advance_while(Time{1000}, ready, fire), 3u);
  EXPECT_EQ(fired, (std::vector<uint64_t>{1, 2, 3, 5, 4}));
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.now(), Time{1000});
}
