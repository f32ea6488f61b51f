// ibcm sim: runs the seed's stories on the simulated fabric and prints, for each, its ladder
// diagram and a summary (outcome, checks, messages, time to recover). With no scenario it runs
// the stale-connection story. Exit status 0 only if every scenario run passed its checks.
#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "ibcm/commands.h"
#include "ibcm/sim/random_run.h"
#include "ibcm/sim/scenario.h"
#include "ibcm/wire/print.h"
#include "progress.h"
#include "session.h"

namespace ibcm::cli {

namespace {

struct SimOptions {
  std::vector<std::string> scenarios;
  uint64_t seed = 1;
  std::string pcap;
  bool json = false;
  bool list = false;
  bool all = false;
  bool random = false;
  std::string seeds = "1..100";
  std::vector<std::string> mutations;
  uint32_t max_nodes = 64;
  bool verbose = false;
};

// One capture per scenario: FILE as given for one scenario, FILE with "-NAME" before its
// extension for several.
std::string pcap_path(const std::string& base, const std::string& name, bool several) {
  if (!several) return base;
  const auto slash = base.find_last_of('/');
  const auto dot = base.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash))
    return base + "-" + name;
  return base.substr(0, dot) + "-" + name + base.substr(dot);
}

// "A..B" (inclusive) or a single seed.
bool parse_seeds(const std::string& s, uint64_t& first, uint64_t& last) {
  try {
    const auto dots = s.find("..");
    size_t used = 0;
    if (dots == std::string::npos) {
      first = last = std::stoull(s, &used);
      return used == s.size();
    }
    first = std::stoull(s.substr(0, dots), &used);
    if (used != dots) return false;
    const std::string tail = s.substr(dots + 2);
    last = std::stoull(tail, &used);
    return used == tail.size() && first <= last;
  } catch (const std::exception&) {
    return false;
  }
}

int run_random_seeds(const SimOptions& o) {
  uint64_t first = 0, last = 0;
  if (!parse_seeds(o.seeds, first, last)) {
    std::cerr << "ibcm sim: --seeds wants A..B (A <= B) or one seed, not '" << o.seeds << "'\n";
    return 2;
  }
  sim::RandomRunOptions ro;
  for (const auto& m : o.mutations)
    if (!parse_mutation(m, ro.mutations)) {
      std::cerr << "ibcm sim: unknown mutation '" << m << "' (" << mutation_list() << ")\n";
      return 2;
    }
  ro.max_nodes = std::max<uint32_t>(2, o.max_nodes);
  const auto t0 = std::chrono::steady_clock::now();
  uint64_t failed = 0, runs = 0;
  Progress progress("ibcm sim: seeds", last - first + 1, !o.json && !o.verbose);
  for (uint64_t seed = first;; ++seed) {
    ro.seed = seed;
    sim::RandomRunResult r = sim::run_random(ro);
    ++runs;
    progress.update(runs);
    if (o.verbose && !o.json) std::cout << sim::describe(r) << "\n";
    if (!r.passed()) {
      progress.clear();
      ++failed;
      if (o.json) {
        std::string v;
        for (const auto& x : r.violations) v += (v.empty() ? "" : ",") + wire::json_quote(x);
        std::cout << "{\"seed\":" << seed
                  << ",\"passed\":false,\"run\":" << wire::json_quote(sim::describe(r))
                  << ",\"violations\":[" << v << "]}\n";
      } else {
        std::cout << "== FAILED " << sim::describe(r) << "\n";
        for (const auto& x : r.violations) std::cout << "   violation: " << x << "\n";
        std::cout << "   reproduce: ibcm sim --random --seeds " << seed << ".." << seed
                  << (ro.max_nodes != 64 ? " --max-nodes " + std::to_string(ro.max_nodes) : "")
                  << "\n\n"
                  << r.fabric->ladder() << "\n";
      }
      if (!o.pcap.empty())
        (void)r.fabric->write_pcap(pcap_path(o.pcap, std::to_string(seed), true));
    }
    if (seed == last) break;
  }
  progress.clear();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (o.json)
    std::cout << "{\"seeds\":" << runs << ",\"passed\":" << runs - failed
              << ",\"failed\":" << failed << ",\"seconds\":" << secs << "}\n";
  else
    std::cout << runs << " seeds (" << first << ".." << last << "): " << runs - failed
              << " passed, " << failed << " failed, in " << secs << " s\n";
  return failed == 0 ? 0 : 1;
}

int run_sim(const SimOptions& o) {
  if (o.random) return run_random_seeds(o);
  const auto all = sim::scenarios();
  if (o.list) {
    for (const auto& s : all) std::cout << s.name << "  " << s.title << "\n";
    return 0;
  }
  std::vector<const sim::Scenario*> chosen;
  if (o.all) {
    for (const auto& s : all) chosen.push_back(&s);
  } else if (o.scenarios.empty()) {
    chosen.push_back(&all.front());
  }
  for (const auto& name : o.scenarios) {
    const sim::Scenario* s = sim::find_scenario(name);
    if (!s) {
      std::cerr << "ibcm sim: no scenario named '" << name << "'; `ibcm sim --list` shows them\n";
      return 2;
    }
    chosen.push_back(s);
  }

  int failed = 0;
  for (const sim::Scenario* s : chosen) {
    sim::ScenarioReport r = s->run(o.seed);
    if (!o.pcap.empty()) {
      const std::string path = pcap_path(o.pcap, r.name, chosen.size() > 1);
      if (std::string err = r.fabric->write_pcap(path); !err.empty()) {
        std::cerr << "ibcm sim: " << err << "\n";
        return 1;
      }
    }
    if (o.json) {
      std::cout << sim::summary_json(r) << "\n";
    } else {
      std::cout << "== " << r.name << ": " << r.title << "\n\n"
                << r.fabric->ladder() << "\n"
                << sim::summary_text(r) << "\n";
    }
    failed += !r.passed();
  }
  if (!o.json && chosen.size() > 1)
    std::cout << chosen.size() - failed << " of " << chosen.size() << " scenarios passed\n";
  return failed == 0 ? 0 : 1;
}

}  // namespace

void add_sim(CLI::App& app, Runner& run) {
  auto o = std::make_shared<SimOptions>();
  auto* cmd = app.add_subcommand(
      "sim", "Run CM scenarios on the deterministic simulated fabric (default: stale-reboot)");
  cmd->add_option("scenario", o->scenarios, "Scenarios to run (see --list)");
  cmd->add_flag("--all", o->all, "Run every scenario");
  cmd->add_flag("--list", o->list, "List the scenarios and exit");
  cmd->add_option("--seed", o->seed, "Seed of the run (comm IDs, PSNs, random faults)");
  cmd->add_option("--pcap", o->pcap,
                  "Write the run's MADs as a RoCEv2 pcap (FILE-NAME.pcap per scenario if several)");
  cmd->add_flag("--json", o->json, "One JSON object per scenario instead of text");
  cmd->add_flag("--random", o->random,
                "Deterministic simulation testing: random fabrics, faults and workloads, one per "
                "seed, with invariant checks; failing seeds print their ladder");
  cmd->add_option("--seeds", o->seeds, "With --random: the seeds to run, A..B inclusive");
  cmd->add_option("--max-nodes", o->max_nodes, "With --random: at most this many nodes (2-64)");
  cmd->add_option("--mutation", o->mutations,
                  "With --random: break an engine rule on purpose (" + mutation_list() +
                      ") to show that the checks catch it");
  cmd->add_flag("--verbose", o->verbose, "With --random: one line per seed");
  cmd->callback([o, &run] { run = [o] { return run_sim(*o); }; });
}

}  // namespace ibcm::cli
