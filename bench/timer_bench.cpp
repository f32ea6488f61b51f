// Costs of the engine's two hot containers at the sizes a busy CM server reaches: the timer wheel
// with 10 million armed timers and the flat map with 1 million entries. Random inputs are drawn
// before the timed loops, so the loops time the containers, not the generator.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "engine/flat_map.h"
#include "ibcm/engine/timer_wheel.h"
#include "perf/timers.h"

namespace {

using ibcm::Time;
using ibcm::TimerWheel;
using ibcm::engine::FlatMap;
using ibcm::perf::ArmedWheel;
using ibcm::perf::draw_delays;
using ibcm::perf::kRing;

constexpr size_t kArmed = 10'000'000;

ArmedWheel& armed() {
  static ArmedWheel a(kArmed);
  return a;
}

// Arm a timer and cancel it again, as for a request answered before its retry timer: the wheel
// holds 10M other timers throughout.
void BM_TimerArmCancel_10M(benchmark::State& state) {
  ArmedWheel& a = armed();
  size_t k = 0;
  for (auto _ : state) a.arm_cancel(k++);
  state.counters["armed"] = static_cast<double>(a.wheel.size());
}
BENCHMARK(BM_TimerArmCancel_10M);

// Cancel a random one of the 10M armed timers and arm a replacement: the cold-cache case, where
// the cancelled node and its list neighbours are anywhere in 240 MB.
void BM_TimerCancelRandomArm_10M(benchmark::State& state) {
  ArmedWheel& a = armed();
  size_t k = 0;
  for (auto _ : state) {
    uint32_t at = a.picks[k & (kRing - 1)];
    a.wheel.cancel(a.ids[at]);
    a.ids[at] = a.wheel.arm(a.delays[k & (kRing - 1)], at);
    ++k;
  }
  state.counters["armed"] = static_cast<double>(a.wheel.size());
}
BENCHMARK(BM_TimerCancelRandomArm_10M);

// Arm 1M timers, then fire them all by following next_wakeup(), as an event loop would: the
// per-timer cost of arming, cascading and firing.
void BM_TimerArmAndFire_1M(benchmark::State& state) {
  std::vector<Time> delays = draw_delays(3);
  uint64_t sum = 0;
  for (auto _ : state) {
    TimerWheel w(Time(0));
    w.reserve(1'000'000);
    for (size_t i = 0; i < 1'000'000; ++i) w.arm(delays[i], i);
    while (auto t = w.next_wakeup()) w.advance(*t, [&](uint64_t c) { sum += c; });
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 1'000'000);
}
BENCHMARK(BM_TimerArmAndFire_1M)->Unit(benchmark::kMillisecond);

constexpr size_t kEntries = 1'000'000;

struct Filled {
  FlatMap<uint64_t, uint32_t> map;
  std::vector<uint64_t> keys;    // present
  std::vector<uint64_t> absent;  // never inserted
  Filled() {
    std::mt19937_64 rng(4);
    map.reserve(kEntries + 1);
    for (size_t i = 0; i < kEntries; ++i) {
      uint64_t k = rng();
      if (map.insert(k, static_cast<uint32_t>(i))) keys.push_back(k);
    }
    while (absent.size() < kRing) {
      uint64_t k = rng();
      if (!map.find(k)) absent.push_back(k);
    }
  }
};

Filled& filled() {
  static Filled f;
  return f;
}

void BM_FlatMapFindHit_1M(benchmark::State& state) {
  Filled& f = filled();
  std::mt19937_64 rng(5);
  std::vector<uint64_t> probe(kRing);
  for (uint64_t& p : probe) p = f.keys[rng() % f.keys.size()];
  size_t k = 0;
  for (auto _ : state) benchmark::DoNotOptimize(f.map.find(probe[k++ & (kRing - 1)]));
}
BENCHMARK(BM_FlatMapFindHit_1M);

void BM_FlatMapFindMiss_1M(benchmark::State& state) {
  Filled& f = filled();
  size_t k = 0;
  for (auto _ : state) benchmark::DoNotOptimize(f.map.find(f.absent[k++ & (kRing - 1)]));
}
BENCHMARK(BM_FlatMapFindMiss_1M);

// Insert a new key and erase it again: the map stays at 1M entries.
void BM_FlatMapInsertErase_1M(benchmark::State& state) {
  Filled& f = filled();
  size_t k = 0;
  for (auto _ : state) {
    uint64_t key = f.absent[k++ & (kRing - 1)];
    benchmark::DoNotOptimize(f.map.insert(key, 1));
    benchmark::DoNotOptimize(f.map.erase(key));
  }
}
BENCHMARK(BM_FlatMapInsertErase_1M);

}  // namespace
