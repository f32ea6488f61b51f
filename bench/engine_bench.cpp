// The engine, both sides in one thread with zero latency (perf::CmPair): full handshakes (REQ, REP,
// RTU) and teardowns (DREQ, DREP, TIMEWAIT exit on both sides), in batches of state.range(0), and
// one at a time for latency percentiles. `ibcm bench` runs the same loops and checks the targets.
#include <benchmark/benchmark.h>

#include <vector>

#include "perf/cm_pair.h"
#include "perf/perf.h"

namespace {

using ibcm::ConnId;
using ibcm::perf::CmPair;

enum class Timed { Handshakes, Teardowns, Both };

// Rounds of `batch` handshakes (REQ, REP, RTU) then their teardowns (DREQ, DREP, both TIMEWAITs
// run out), timing one phase or both (a whole connection life).
void rounds(benchmark::State& state, Timed timed) {
  const auto batch = static_cast<size_t>(state.range(0));
  CmPair d;
  std::vector<ConnId> ids;
  ids.reserve(batch);
  for (auto _ : state) {
    ids.clear();
    if (timed == Timed::Teardowns) state.PauseTiming();
    size_t made = d.connect(batch, 1, &ids);
    if (timed == Timed::Handshakes) state.PauseTiming();
    if (timed == Timed::Teardowns) state.ResumeTiming();
    size_t gone = d.disconnect(ids);
    if (timed == Timed::Handshakes) state.ResumeTiming();
    if (made != batch || gone != batch) state.SkipWithError("a handshake or teardown failed");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}

void BM_Handshakes(benchmark::State& state) {
  rounds(state, Timed::Handshakes);
}
BENCHMARK(BM_Handshakes)->Arg(1)->Arg(64)->Arg(1024);

void BM_Teardowns(benchmark::State& state) {
  rounds(state, Timed::Teardowns);
}
BENCHMARK(BM_Teardowns)->Arg(1)->Arg(64)->Arg(1024);

// A whole connection life, set up and torn down, with nothing paused.
void BM_ConnectionLifecycle(benchmark::State& state) {
  rounds(state, Timed::Both);
}
BENCHMARK(BM_ConnectionLifecycle)->Arg(1024);

// Latency percentiles of single handshakes and teardowns, in ns (counters).
void BM_Latency(benchmark::State& state) {
  ibcm::perf::EngineResult r;
  for (auto _ : state) r = ibcm::perf::measure_engine(1, 1, 1, 100000);
  state.counters["handshake_p50_ns"] = r.handshake_latency.p50;
  state.counters["handshake_p99_ns"] = r.handshake_latency.p99;
  state.counters["handshake_p999_ns"] = r.handshake_latency.p999;
  state.counters["teardown_p50_ns"] = r.teardown_latency.p50;
  state.counters["teardown_p99_ns"] = r.teardown_latency.p99;
}
BENCHMARK(BM_Latency)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
