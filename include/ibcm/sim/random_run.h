/// @file
/// Deterministic simulation testing: one seed builds a random fabric (2-64 nodes) and workload
/// (connects, accepts, rejects, MRAs, disconnects, destroys, LAPs, SIDR, crashes and reboots,
/// partitions) with random fault rates (loss up to 50 %, duplication, reordering, delay spikes),
/// runs it on the virtual clock, heals the network, lets timers drain, and checks invariants
/// throughout and at the end. A run is a pure function of its seed: a failing seed is its own
/// reproduction (`ibcm sim --random --seeds N..N` prints its ladder).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/sim/fabric.h"

IBCM_API_BEGIN

namespace ibcm::sim {

struct RandomRunOptions {
  uint64_t seed = 1;
  uint32_t min_nodes = 2;
  uint32_t max_nodes = 64;
  uint32_t max_ops = 400;  ///< workload operations (connect, disconnect, crash, ...)
  Time workload = std::chrono::seconds(30);  ///< operations are spread over this much virtual time
  uint32_t mutations = 0;  ///< Mutation bits for every node's engine (checker self-test)
  uint64_t max_steps = 5'000'000;
};

struct RandomRunStats {
  uint32_t nodes = 0;
  double loss = 0, duplicate = 0, reorder = 0;
  uint64_t ops = 0, connects = 0, disconnects = 0, destroys = 0, laps = 0, sidrs = 0, crashes = 0,
           partitions = 0;
  uint64_t established = 0;    ///< `established` events delivered
  uint64_t stale_rejects = 0;  ///< REJ 10 sent
  uint64_t dreq_timeouts = 0;  ///< `dreq_timeout` events delivered
  /// ESTABLISHED on one side only when the network healed, and why that was legitimate (any
  /// other reason is a violation): the peer crashed since the handshake, or its last word (REJ,
  /// DREQ) was lost.
  uint64_t one_sided_after_heal = 0, one_sided_peer_rebooted = 0, one_sided_last_word_lost = 0;
  uint64_t qpn_reuses_refused = 0;  ///< connect() from a QPN still held, refused by the engine
  /// connects whose REQ waited for Config::max_reqs_in_flight (nodes up at the end)
  uint64_t reqs_waited = 0;
  uint64_t mads = 0, steps = 0;
  Time end{0};  ///< virtual time when the run drained
};

struct RandomRunResult {
  uint64_t seed = 0;
  RandomRunStats stats;
  std::vector<std::string> violations;  ///< empty: every invariant held
  std::unique_ptr<Fabric> fabric;       ///< the finished run, for the ladder and pcap
  bool passed() const { return violations.empty(); }
};

RandomRunResult run_random(const RandomRunOptions& o);

/// The engine rules the mutation check breaks (ibcm::Mutation), by the name `ibcm sim --random
/// --mutation NAME` takes.
struct MutationName {
  std::string_view name;
  Mutation mutation;
};
std::span<const MutationName> mutation_names();

/// One line: seed, fabric, fault rates, workload and what happened.
std::string describe(const RandomRunResult& r);

}  // namespace ibcm::sim

IBCM_API_END
