// Over the wire, two processes on loopback: handshakes per second next to raw 256-byte datagram
// round trips per second through the same transport with the same batching, measured in the same
// run (perf::measure_wire). RoCEv2 needs raw sockets: without root or CAP_NET_RAW it is skipped.
#include <benchmark/benchmark.h>

#include "perf/perf.h"

namespace {

void report(benchmark::State& state, ibcm::perf::WireKind kind) {
  ibcm::perf::WireResult r;
  for (auto _ : state) r = ibcm::perf::measure_wire(kind, 1.0, 3, 64);
  if (!r.ran) {
    state.SkipWithError(("skipped: " + r.skipped).c_str());
    return;
  }
  state.counters["handshakes_per_s"] = r.handshakes.per_s;
  state.counters["round_trips_per_s"] = r.round_trips.per_s;
  state.counters["ratio"] = r.ratio.median;
  state.counters["cpu_ratio"] = r.cpu_ratio.median;
  state.counters["one_way_ratio"] = r.one_way_ratio.median;
}

void BM_WireUdp(benchmark::State& state) {
  report(state, ibcm::perf::WireKind::Udp);
}
BENCHMARK(BM_WireUdp)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

void BM_WireRoce(benchmark::State& state) {
  report(state, ibcm::perf::WireKind::Roce);
}
BENCHMARK(BM_WireRoce)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace
