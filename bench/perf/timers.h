// A timer wheel holding millions of armed timers with CM-like deadlines, shared by the timer
// benchmarks (bench/timer_bench.cpp) and `ibcm bench`. Random inputs are drawn before any timed
// loop, so the loops time the wheel, not the generator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ibcm/engine/timer_wheel.h"

namespace ibcm::perf {

constexpr size_t kRing = 1 << 20;  // pre-drawn random values, reused cyclically

// CM-like deadlines: log-uniform from 1 µs to ~1.2 hours ahead (retries, MRA waits, TIMEWAIT).
std::vector<Time> draw_delays(uint64_t seed);

struct ArmedWheel {
  explicit ArmedWheel(size_t armed);
  TimerWheel wheel{Time(0)};
  std::vector<TimerWheel::Id> ids;  // of the armed timers
  std::vector<Time> delays;         // kRing deadlines
  std::vector<uint32_t> picks;      // kRing random indices into ids

  // Arms a timer and cancels it again, as for a request answered before its retry timer; the
  // wheel holds its other timers throughout. k picks the deadline.
  void arm_cancel(size_t k) {
    TimerWheel::Id id = wheel.arm(delays[k & (kRing - 1)], 0);
    wheel.cancel(id);
  }
};

}  // namespace ibcm::perf
