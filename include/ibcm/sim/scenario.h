/// @file
/// The seed's stories as runnable scenarios on the simulated fabric: each one scripts two nodes,
/// runs to idle on the virtual clock, and checks what the spec promises about the run. `ibcm sim`
/// prints them; tests/sim/scenario_test.cpp asserts their exact message sequences and times.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/sim/fabric.h"

IBCM_API_BEGIN

namespace ibcm::sim {

struct ScenarioCheck {
  std::string what;
  bool ok = false;
};

/// What a scenario measured: the time from `from` to `to` (recovery, teardown, set-up), split
/// into time spent waiting on a timer the spec requires (TIMEWAIT, retry intervals, a consumer
/// that is slow on purpose) and round trips on the wire.
struct ScenarioMeasure {
  std::string name;  ///< "recovery", "teardown", "setup"
  std::string from, to;
  Time elapsed{0};
  Time waited{0};         ///< part of `elapsed` spent waiting on `waited_on`
  std::string waited_on;  ///< "TIMEWAIT", "16 DREQ retry intervals + TIMEWAIT", ...
  Time round_trip{0};
  double round_trips() const;  ///< (elapsed - waited) / round_trip
};

struct ScenarioReport {
  std::string name;
  std::string title;
  uint64_t seed = 0;
  std::unique_ptr<Fabric> fabric;  ///< the finished run: trace, ladder, pcap, stats
  Stop stop = Stop::Idle;
  std::vector<ScenarioCheck> checks;
  std::optional<ScenarioMeasure> measure;

  bool passed() const;
  /// Adds a check; returns `ok` so a scenario can stop early when a step failed.
  bool check(bool ok, std::string what);
};

struct Scenario {
  std::string_view name;
  std::string_view title;
  ScenarioReport (*run)(uint64_t seed);
};

/// Every scenario, in the order `ibcm sim --list` shows them; the first is the default.
std::span<const Scenario> scenarios();
const Scenario* find_scenario(std::string_view name);

/// "A>B REQ", "B>A REJ 10", "A>B DREQ [DROPPED]": one entry per MAD copy, in send order.
std::vector<std::string> mad_sequence(const Trace& t);
/// "REQ 2, REJ 1, DREQ 1, DREP 1, REP 2, RTU 2": MADs put on the wire, by type, in first-seen
/// order.
std::string mad_counts(const Trace& t);

/// The scenario's summary: outcome, checks, messages, the measurement (several lines).
std::string summary_text(const ScenarioReport& r);
/// One JSON object (a single line): scenario, seed, passed, checks, messages, measurement,
/// the MAD sequence and the ladder lines.
std::string summary_json(const ScenarioReport& r);

}  // namespace ibcm::sim

IBCM_API_END
