// Stale recovery on the simulated fabric (`stale-reboot`): round trips from the rebooted peer's
// REQ to the new connection, not counting the TIMEWAIT the spec requires; and what a run costs.
#include <benchmark/benchmark.h>

#include "perf/perf.h"

namespace {

void BM_StaleRecovery(benchmark::State& state) {
  ibcm::perf::StaleResult r;
  uint64_t seed = 1;
  for (auto _ : state) r = ibcm::perf::measure_stale(seed++);
  if (!r.passed) state.SkipWithError("the stale-reboot scenario failed its checks");
  state.counters["round_trips"] = r.round_trips;
  state.counters["waited_ms"] = r.waited_ms;
}
BENCHMARK(BM_StaleRecovery)->Unit(benchmark::kMillisecond);

}  // namespace
