// Scale: the cost of one more handshake with 1k, 10k, 100k and 1M ESTABLISHED connections held
// (both sides of each in one process), and the memory and time the 1M take to set up.
#include <benchmark/benchmark.h>

#include <vector>

#include "perf/cm_pair.h"
#include "perf/perf.h"

namespace {

using ibcm::ConnId;
using ibcm::perf::CmPair;

constexpr uint32_t kChurnQpn = 0x700000;

// One pair grown as the benchmarks ask for more (their arguments ascend).
struct Grown {
  CmPair d;
  size_t live = 0;
  void grow_to(size_t n) {
    while (live < n) {
      size_t k = std::min<size_t>(4096, n - live);
      live += d.connect(k, static_cast<uint32_t>(live + 1));
    }
  }
};
Grown& grown() {
  static Grown g;
  return g;
}

// 256 handshakes on top of state.range(0) live connections (timed), torn down again (not timed).
void BM_HandshakeAtLive(benchmark::State& state) {
  Grown& g = grown();
  g.grow_to(static_cast<size_t>(state.range(0)));
  std::vector<ConnId> ids;
  for (auto _ : state) {
    ids.clear();
    g.d.connect(256, kChurnQpn, &ids);
    state.PauseTiming();
    g.d.disconnect(ids);
    state.ResumeTiming();
  }
  if (g.d.errors()) state.SkipWithError("unexpected events");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 256);
  state.counters["live"] = static_cast<double>(g.live);
}
BENCHMARK(BM_HandshakeAtLive)->Arg(1000)->Arg(10000)->Arg(100000)->Arg(1000000);

// Setting up 1M connections from nothing: time, and resident bytes per connection record.
void BM_SetUp1M(benchmark::State& state) {
  ibcm::perf::ScaleResult r;
  for (auto _ : state) r = ibcm::perf::measure_scale({1'000'000}, 256, 20);
  state.counters["setup_s"] = r.setup_cpu_s;
  state.counters["bytes_per_record"] = r.bytes_per_record();
  state.counters["rss_MB"] = static_cast<double>(r.rss_after - r.rss_before) / 1e6;
}
BENCHMARK(BM_SetUp1M)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace
