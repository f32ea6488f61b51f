// The measurements behind `ibcm bench` and the Google Benchmark suite (bench/*_bench.cpp): each
// function runs one experiment of issue 5 and returns what it measured. Nothing here asserts a
// time: the caller compares against the targets.
//
// Times are CPU time of the measuring thread (CLOCK_THREAD_CPUTIME_ID) unless said otherwise, so
// a rate is "per second of one core" even on a machine shared with other work.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ibcm::perf {

// Seconds of CPU time this thread has used, and of wall-clock time (both monotonic).
double thread_cpu_seconds();
double wall_seconds();
// Resident set size of this process in bytes (/proc/self/statm), after giving freed heap memory
// back to the system (malloc_trim), so that it counts what is in use.
size_t resident_bytes();

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;  // nanoseconds
};
Percentiles percentiles(std::vector<double> samples_ns);

// One measurement over its rounds: a target is judged on the median, and the spread shows how
// much a round can move it.
struct Spread {
  double min = 0, median = 0, max = 0;
  size_t rounds = 0;
};
Spread spread_of(std::vector<double> per_round);

// --- 1. the engine, both sides in one thread, zero latency, no faults ---
struct EngineResult {
  uint64_t handshakes = 0;  // REQ, REP, RTU: both sides ESTABLISHED
  double handshake_cpu_s = 0;
  uint64_t teardowns = 0;  // DREQ, DREP, both TIMEWAITs run out: both records freed
  double teardown_cpu_s = 0;
  Spread handshake_rate, teardown_rate;  // per second of CPU time, over the rounds
  double handshakes_per_s() const { return handshake_rate.median; }
  double teardowns_per_s() const { return teardown_rate.median; }
  // One handshake at a time, from connect() to ESTABLISHED on both sides, in CPU time: samples
  // from blocks the thread was preempted in are dropped (and the blocks counted).
  Percentiles handshake_latency;
  Percentiles teardown_latency;  // disconnect() to both TIMEWAIT exits (time advanced at once)
  size_t latency_samples = 0;
  size_t latency_blocks_preempted = 0;
};
// `rounds` rounds, each of batches of `batch` handshakes then `batch` teardowns until
// handshakes / rounds of each ran; then `latency_samples` single handshakes and teardowns, each
// timed on its own (CPU time).
EngineResult measure_engine(uint64_t handshakes, size_t batch, size_t rounds,
                            size_t latency_samples);

// --- 2. scale: many live ESTABLISHED connections ---
struct ScalePoint {
  size_t live = 0;          // ESTABLISHED connections (each has a record on both sides)
  double handshake_ns = 0;  // CPU time of one more handshake with `live` held (median)
  // This size's cost over the smallest size's in the same round (median over the rounds).
  double over_smallest = 0;
  Spread over_smallest_spread;
  double handshakes_per_s() const { return 1e9 / handshake_ns; }
};
struct ScaleResult {
  std::vector<ScalePoint> points;  // one per size asked for, ascending
  size_t live = 0;                 // the largest size
  double setup_cpu_s = 0;          // CPU time to set up the largest size (both sides)
  double setup_wall_s = 0;
  size_t rss_before = 0, rss_after = 0;  // before the largest pair was made, at the end
  // Resident bytes per connection record of the largest pair (each connection has two: one per
  // side).
  double bytes_per_record() const {
    return static_cast<double>(rss_after - rss_before) / (2.0 * static_cast<double>(live));
  }
  // The cost of one more handshake at the largest size over that at the smallest, and the worst
  // of all sizes over the smallest, each paired round by round.
  double growth() const { return points.back().over_smallest; }
  const ScalePoint& worst() const {
    return *std::max_element(points.begin(), points.end(), [](const auto& a, const auto& b) {
      return a.over_smallest < b.over_smallest;
    });
  }
  double worst_growth() const { return worst().over_smallest; }
};
// One pair of CMs per size in `sizes` (ascending), each grown to its size (the largest one's
// set-up timed); then `rounds` rounds in which every size in turn runs `batch` handshakes on top
// of its live ones (timed) and tears them down (not timed), so the live counts stay put.
ScaleResult measure_scale(const std::vector<size_t>& sizes, size_t batch, size_t rounds);

// --- 3. timers: arm + cancel with many armed ---
struct TimerResult {
  size_t armed = 0;
  uint64_t ops = 0;
  double arm_cancel_ns = 0;  // one arm and one cancel (median over the rounds)
  Spread arm_cancel;
};
// `ops` arms and cancels with `armed` timers armed, in `rounds` timed rounds.
TimerResult measure_timers(size_t armed, uint64_t ops, size_t rounds);

// --- 4. over the wire: two processes on loopback ---
enum class WireKind { Udp, Roce };
// A rate per second of wall-clock time and per CPU second of both processes (user + system),
// each the median of the rounds.
struct WireRate {
  double per_s = 0;
  double per_cpu_s = 0;
  uint64_t count = 0;  // over all rounds
};
struct WireResult {
  WireKind kind = WireKind::Udp;
  bool ran = false;
  std::string skipped;      // why not, when !ran
  size_t window = 0;        // handshakes (or round trips) in flight at once
  WireRate round_trips;     // raw 256-byte datagram round trips
  uint64_t raw_resent = 0;  // raw datagrams sent again after 20 ms without their echo (lost)
  // Handshakes both ways: each process connects to the other (half the window each) and accepts
  // the other's, so both carry the same load, as both do in the raw round trips. The target.
  WireRate handshakes;
  // One way: one process connects (the whole window), the other accepts. It makes two of a
  // handshake's three sends, so its core limits the rate (information only).
  WireRate one_way;
  // Handshakes over raw round trips, each round's phases paired: wall-clock and CPU rates, both
  // ways and one way. The targets are judged on the medians.
  Spread ratio, cpu_ratio, one_way_ratio, one_way_cpu_ratio;
};
// Alternates `rounds` times: raw round trips, handshakes both ways, handshakes one way, each for
// `seconds`. RoCEv2 needs raw sockets (root or CAP_NET_RAW); without them the result says so and
// !ran.
WireResult measure_wire(WireKind kind, double seconds, int rounds, size_t window);

// --- 5. stale recovery in the simulator ---
struct StaleResult {
  bool passed = false;  // the scenario's own checks
  double round_trips = 0;
  double elapsed_ms = 0, waited_ms = 0, round_trip_ms = 0;
  std::string waited_on;
};
StaleResult measure_stale(uint64_t seed);

}  // namespace ibcm::perf
