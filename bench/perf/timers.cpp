#include "perf/timers.h"

#include <algorithm>
#include <random>

#include "perf/perf.h"

namespace ibcm::perf {

std::vector<Time> draw_delays(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Time> out(kRing);
  for (Time& d : out) {
    unsigned bits = 10 + static_cast<unsigned>(rng() % 33);
    d = Time(static_cast<int64_t>(rng() % (uint64_t{1} << bits)) + 1000);
  }
  return out;
}

ArmedWheel::ArmedWheel(size_t armed) : delays(draw_delays(1)) {
  wheel.reserve(armed + 16);
  ids.reserve(armed);
  for (size_t i = 0; i < armed; ++i) ids.push_back(wheel.arm(delays[i % kRing], i));
  std::mt19937_64 rng(2);
  picks.resize(kRing);
  for (uint32_t& p : picks) p = static_cast<uint32_t>(rng() % (armed ? armed : 1));
}

TimerResult measure_timers(size_t armed, uint64_t ops, size_t rounds) {
  ArmedWheel w(armed);
  for (size_t k = 0; k < 100000; ++k) w.arm_cancel(k);  // warm-up
  rounds = std::max<size_t>(rounds, 1);
  const uint64_t per_round = std::max<uint64_t>(ops / rounds, 1);
  std::vector<double> ns;
  uint64_t k = 0;
  for (size_t i = 0; i < rounds; ++i) {
    double t0 = thread_cpu_seconds();
    for (uint64_t end = k + per_round; k < end; ++k) w.arm_cancel(k);
    double t1 = thread_cpu_seconds();
    ns.push_back((t1 - t0) * 1e9 / static_cast<double>(per_round));
  }
  TimerResult r;
  r.armed = w.wheel.size();
  r.ops = k;
  r.arm_cancel = spread_of(std::move(ns));
  r.arm_cancel_ns = r.arm_cancel.median;
  return r;
}

}  // namespace ibcm::perf
