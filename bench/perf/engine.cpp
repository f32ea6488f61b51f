// The engine in one thread (CmPair): handshake and teardown rates, latency percentiles, and the
// cost of one more handshake as the number of live connections grows.
#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "perf/cm_pair.h"
#include "perf/perf.h"

namespace ibcm::perf {

namespace {

double clock_seconds(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void check(const CmPair& d, const char* what) {
  if (d.errors() != 0)
    throw std::runtime_error(
        std::string("engine benchmark: unexpected events or refused calls in ") + what);
}

}  // namespace

double thread_cpu_seconds() {
  return clock_seconds(CLOCK_THREAD_CPUTIME_ID);
}
double wall_seconds() {
  return clock_seconds(CLOCK_MONOTONIC);
}

size_t resident_bytes() {
  malloc_trim(0);
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  int got = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (got != 2) return 0;
  return static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

Spread spread_of(std::vector<double> v) {
  Spread s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.rounds = v.size();
  s.min = v.front();
  s.max = v.back();
  const size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return s;
}

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.max = v.back();
  return p;
}

EngineResult measure_engine(uint64_t handshakes, size_t batch, size_t rounds,
                            size_t latency_samples) {
  EngineResult r;
  CmPair d;
  std::vector<ConnId> ids;
  ids.reserve(batch);
  // Warm-up: pools, maps and queues reach their working size (as a running server's have).
  for (int i = 0; i < 3; ++i) {
    ids.clear();
    d.connect(batch, 1, &ids);
    d.disconnect(ids);
  }
  check(d, "warm-up");
  rounds = std::max<size_t>(rounds, 1);
  const uint64_t per_round = std::max<uint64_t>(handshakes / rounds, 1);
  std::vector<double> handshake_rates, teardown_rates;
  for (size_t i = 0; i < rounds; ++i) {
    uint64_t hs = 0, td = 0;
    double hs_s = 0, td_s = 0;
    while (hs < per_round) {
      ids.clear();
      double t0 = thread_cpu_seconds();
      hs += d.connect(batch, 1, &ids);
      double t1 = thread_cpu_seconds();
      td += d.disconnect(ids);
      double t2 = thread_cpu_seconds();
      hs_s += t1 - t0;
      td_s += t2 - t1;
    }
    handshake_rates.push_back(static_cast<double>(hs) / hs_s);
    teardown_rates.push_back(static_cast<double>(td) / td_s);
    r.handshakes += hs;
    r.teardowns += td;
    r.handshake_cpu_s += hs_s;
    r.teardown_cpu_s += td_s;
  }
  r.handshake_rate = spread_of(std::move(handshake_rates));
  r.teardown_rate = spread_of(std::move(teardown_rates));
  check(d, "the rate rounds");

  // One at a time, in CPU time. The thread CPU clock is a system call (about 0.5 us here, as long
  // as a handshake), so each sample is timed with the vDSO wall clock instead, and the thread CPU
  // clock is read only around blocks of kBlock samples: a block whose wall time exceeds its CPU
  // time was preempted (the wall clock counted someone else's work), and all its samples are
  // thrown away. What is kept is wall time during which this thread ran: CPU time.
  constexpr size_t kBlock = 32;
  constexpr double kClockSlack = 2e-6;  // the two CPU clock reads inside the block's wall span
  std::vector<double> hs, td, block_hs, block_td;
  hs.reserve(latency_samples);
  td.reserve(latency_samples);
  block_hs.reserve(kBlock);
  block_td.reserve(kBlock);
  size_t attempts = 0;
  while (hs.size() < latency_samples && attempts++ < 4 * latency_samples / kBlock + 8) {
    block_hs.clear();
    block_td.clear();
    double c0 = thread_cpu_seconds();
    double w0 = wall_seconds();
    for (size_t i = 0; i < kBlock; ++i) {
      ids.clear();
      double t0 = wall_seconds();
      d.connect(1, 1, &ids);
      double t1 = wall_seconds();
      d.disconnect(ids);
      double t2 = wall_seconds();
      block_hs.push_back((t1 - t0) * 1e9);
      block_td.push_back((t2 - t1) * 1e9);
    }
    double w1 = wall_seconds();
    double c1 = thread_cpu_seconds();
    if (c1 - c0 + kClockSlack < w1 - w0) {
      ++r.latency_blocks_preempted;
      continue;
    }
    hs.insert(hs.end(), block_hs.begin(), block_hs.end());
    td.insert(td.end(), block_td.begin(), block_td.end());
  }
  r.latency_samples = hs.size();
  check(d, "the latency samples");
  r.handshake_latency = percentiles(std::move(hs));
  r.teardown_latency = percentiles(std::move(td));
  return r;
}

ScaleResult measure_scale(const std::vector<size_t>& sizes, size_t batch, size_t rounds) {
  ScaleResult r;
  constexpr uint32_t kChurnQpn = 0x700000;  // QPNs of the measured handshakes, above the live ones
  constexpr size_t kSetupBatch = 4096;
  // One pair per size, each grown to its size; the largest one's set-up is timed and its memory
  // measured (the resident size before it was made, and at the end).
  std::vector<std::unique_ptr<CmPair>> pairs;
  for (size_t target : sizes) {
    if (target >= kChurnQpn) throw std::invalid_argument("measure_scale: too many connections");
    if (target == sizes.back()) r.rss_before = resident_bytes();
    auto d = std::make_unique<CmPair>();
    double c0 = thread_cpu_seconds(), w0 = wall_seconds();
    size_t live = 0;
    while (live < target) {
      size_t n = std::min(kSetupBatch, target - live);
      live += d->connect(n, static_cast<uint32_t>(live + 1));
    }
    if (target == sizes.back()) {
      r.setup_cpu_s = thread_cpu_seconds() - c0;
      r.setup_wall_s = wall_seconds() - w0;
      r.live = live;
    }
    check(*d, "the set-up");
    ScalePoint p;
    p.live = live;
    r.points.push_back(p);
    pairs.push_back(std::move(d));
  }

  // The sizes take turns, round after round (the order rotating), so that a slow spell of the
  // machine lands on all of them: measured one size after another, seconds apart, the points
  // moved by up to 1.5x between runs of one binary. Each timed round follows an untimed one on the
  // same pair, which brings a small pair's state back into the cache after a big one's round.
  std::vector<ConnId> ids;
  ids.reserve(batch);
  auto round = [&](CmPair& d) {
    ids.clear();
    double t0 = thread_cpu_seconds();
    size_t made = d.connect(batch, kChurnQpn, &ids);
    double t1 = thread_cpu_seconds();
    d.disconnect(ids);
    return (t1 - t0) * 1e9 / static_cast<double>(std::max<size_t>(made, 1));
  };
  const size_t k = pairs.size();
  std::vector<std::vector<double>> cost(k), over_smallest(k);
  std::vector<double> this_round(k);
  for (size_t i = 0; i < rounds; ++i) {
    for (size_t j = 0; j < k; ++j) {
      size_t s = (i + j) % k;
      round(*pairs[s]);
      this_round[s] = round(*pairs[s]);
    }
    for (size_t s = 0; s < k; ++s) {
      cost[s].push_back(this_round[s]);
      over_smallest[s].push_back(this_round[s] / this_round[0]);
    }
  }
  for (size_t s = 0; s < k; ++s) {
    check(*pairs[s], "the measured handshakes");
    r.points[s].handshake_ns = spread_of(cost[s]).median;
    r.points[s].over_smallest_spread = spread_of(over_smallest[s]);
    r.points[s].over_smallest = r.points[s].over_smallest_spread.median;
  }
  // Everything a pair holds is in its CMs (the harness keeps no per-connection state).
  r.rss_after = resident_bytes();
  return r;
}

}  // namespace ibcm::perf
