// ibcm probe: a conformance probe for a remote CM (include/ibcm/probe/probe.h,
// docs/conformance.md).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ibcm/commands.h"
#include "ibcm/probe/probe.h"
#include "session.h"

namespace ibcm::cli {

namespace {

struct ProbeCommandOptions {
  SessionOptions s;
  std::string only;
  double answer_wait = 1.0;
  double disconnect_wait = 2.0;
  double connect_wait = 0;
};

Time seconds_of(double s) {
  return std::chrono::duration_cast<Time>(std::chrono::duration<double>(s));
}

std::vector<std::string> split_names(const std::string& list) {
  std::vector<std::string> names;
  std::stringstream in(list);
  for (std::string name; std::getline(in, name, ',');)
    if (!name.empty()) names.push_back(name);
  return names;
}

void print_row(const probe::CheckResult& r) {
  std::printf("%-25s %-11s %-9s %7.3f s  %s\n", r.check.c_str(), r.section.c_str(),
              std::string(probe::to_string(r.result)).c_str(), r.seconds, r.seen.c_str());
  if (r.result == probe::Verdict::Deviation)
    std::printf("%-25s %-11s expected: %s\n", "", "", r.expected.c_str());
  if (r.left_open > 0)
    std::printf("%-25s %-11s left open: %u connection(s) the probe could not end\n", "", "",
                r.left_open);
  std::fflush(stdout);
}

void print_json(const probe::CheckResult& r) {
  nlohmann::json j = {{"check", r.check},
                      {"section", r.section},
                      {"expected", r.expected},
                      {"seen", r.seen},
                      {"result", probe::to_string(r.result)},
                      {"seconds", r.seconds},
                      {"left_open", r.left_open}};
  std::cout << j.dump() << '\n' << std::flush;
}

int run_probe(const ProbeCommandOptions& o) {
  auto session = Session::open(o.s, "probe", false);
  if (!session) return kProbeCannotRun;
  Session& s = *session;
  probe::ProbeOptions po;
  po.remote = s.remote_address();
  po.local_ip = s.local();
  po.remote_ip = *s.remote();
  po.port = o.s.port;
  po.ca_guid = s.ca_guid();
  po.seed = o.s.seed.empty()
                ? static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())
                : parse_number(o.s.seed).value_or(0);
  po.only = split_names(o.only);
  po.answer_wait = seconds_of(o.answer_wait);
  po.remote_disconnect_wait = seconds_of(o.disconnect_wait);
  po.remote_connect_wait = seconds_of(o.connect_wait);
  if (!o.s.json)
    std::printf("%-25s %-11s %-9s %9s  %s\n", "check", "section", "result", "time", "seen");
  po.on_result = o.s.json ? print_json : print_row;
  auto results = probe::run(s.raw_transport(), po);
  if (!results) {
    std::fprintf(stderr, "ibcm probe: %s\n", results.error().c_str());
    return kProbeCannotRun;
  }
  int deviations = 0, passed = 0, left = 0;
  for (const auto& r : *results) {
    deviations += r.result == probe::Verdict::Deviation;
    passed += r.result == probe::Verdict::Pass;
    left += static_cast<int>(r.left_open);
  }
  if (!o.s.json)
    std::printf("%zu checks: %d pass, %d deviation, %zu n/a; %d connection(s) left open\n",
                results->size(), passed, deviations,
                results->size() - static_cast<size_t>(passed + deviations), left);
  if (left > 0)
    std::fprintf(stderr, "ibcm probe: the remote may still hold %d connection(s) it opened\n",
                 left);
  return std::min(deviations, 100);
}

std::string check_list() {
  std::string s;
  for (const auto& c : probe::checks())
    s += "\n  " + std::string(c.name) + ": " + std::string(c.summary);
  return s;
}

}  // namespace

void add_probe(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand(
      "probe", "Check a remote CM against IBTA chapter 12: one conversation per rule, timed");
  static ProbeCommandOptions o;
  add_session_options(*cmd, o.s, true);
  cmd->add_option("--only", o.only, "run only these checks (comma-separated names)" + check_list());
  cmd->add_option("--answer-wait", o.answer_wait,
                  "seconds to wait for an answer the spec says comes at once")
      ->capture_default_str();
  cmd->add_option("--disconnect-wait", o.disconnect_wait,
                  "seconds to wait for the remote to disconnect on its own (dreq-unanswered)")
      ->capture_default_str();
  cmd->add_option("--connect-wait", o.connect_wait,
                  "seconds to wait for the remote to connect to us, for the checks where the "
                  "probe is the passive side (stale-rep, mra-req; start a client that connects "
                  "to our address and --port again and again); 0: those checks are n/a")
      ->capture_default_str();
  cmd->footer(
      "Exit status: 0 every check passed (or was n/a); 1 to 100 the number of deviations (100 "
      "for more); 101 the probe could not run (a usage error, a bad argument, a transport that "
      "cannot be opened, not one answer from the remote).");
  cmd->callback([&run] { run = [] { return run_probe(o); }; });
}

}  // namespace ibcm::cli
