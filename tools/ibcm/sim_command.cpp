// ibcm sim: runs the seed's stories on the simulated fabric and prints, for each, its ladder
// diagram and a summary (outcome, checks, messages, time to recover). With no scenario it runs
// the stale-connection story. Exit status 0 only if every scenario run passed its checks.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "ibcm/commands.h"
#include "ibcm/sim/scenario.h"

namespace ibcm::cli {

namespace {

struct SimOptions {
  std::vector<std::string> scenarios;
  uint64_t seed = 1;
  std::string pcap;
  bool json = false;
  bool list = false;
  bool all = false;
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

int run_sim(const SimOptions& o) {
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
  cmd->callback([o, &run] { run = [o] { return run_sim(*o); }; });
}

}  // namespace ibcm::cli
