// The probe against ibcm's own engine (tests/probe/remote_cm.h) over MAD-over-UDP on loopback:
// every check passes against the engine as it is, and each rule the simulator can break on
// purpose (ibcm::Mutation) is reported as exactly the check for that rule, nothing else.
#include "ibcm/probe/probe.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "ibcm/sim/random_run.h"
#include "probe/remote_cm.h"

namespace ibcm::probe::test {
namespace {

using namespace std::chrono_literals;

// The remote disconnects on its own after `kHold`: later than a check waits for an answer (so a
// DREQ it sends is never mistaken for one the check asked for), sooner than the probe waits for
// it (dreq-unanswered). 300 ms of answer wait was too short once in a loaded Debug build (an RTU
// came later).
constexpr Time kAnswerWait = 600ms;
constexpr Time kHold = 2000ms;

struct ProbeRun {
  std::vector<CheckResult> results;
  std::string error;
};

// The remote connects to the probe this often (the checks where the probe is the passive side
// take one REQ or two): well within kHold, so that a connection still stands when the next REQ
// comes, and well within kConnectWait.
constexpr Time kConnectEvery = 250ms;
constexpr Time kConnectWait = 2000ms;

ProbeRun probe(RemoteCm& remote, std::vector<std::string> only = {}) {
  auto t = UdpTransport::open(*parse_endpoint("127.0.0.1", 0));
  if (!t) return {{}, t.error()};
  remote.connect_to(t.value()->endpoint(), kConnectEvery);
  ProbeOptions o;
  o.remote = address_of(remote.endpoint());
  o.local_ip = t.value()->endpoint();
  o.remote_ip = remote.endpoint();
  o.port = RemoteCm::kPort;
  o.ca_guid = 0x0200000000000001;
  o.seed = 1;
  o.only = std::move(only);
  o.answer_wait = kAnswerWait;
  o.remote_disconnect_wait = 3 * kHold;
  o.remote_connect_wait = kConnectWait;
  auto r = run(*t.value(), o);
  remote.stop_connecting();
  if (!r) return {{}, r.error()};
  return {std::move(r.value()), ""};
}

std::string table(const std::vector<CheckResult>& rs) {
  std::string s;
  for (const auto& r : rs)
    s += r.check + " " + std::string(to_string(r.result)) + ": " + r.seen + "\n";
  return s;
}

// Until the remote holds no connection (TIMEWAIT over), or a bound far past its TIMEWAIT.
bool remote_drains(const RemoteCm& remote) {
  auto until = std::chrono::steady_clock::now() + 5s;
  while (remote.connections() != 0)
    if (std::chrono::steady_clock::now() > until)
      return false;
    else
      std::this_thread::yield();
  return true;
}

// The REQ fields no remote can be held to by its messages alone (their validity depends on the
// receiving port): n/a rows, whatever the remote.
const std::set<std::string> kPortDependent = {"invalid-lid",
                                              "invalid-sl",
                                              "invalid-traffic-class",
                                              "invalid-hop-limit",
                                              "invalid-alt-lid",
                                              "invalid-alt-sl",
                                              "invalid-alt-traffic-class",
                                              "invalid-alt-hop-limit",
                                              "invalid-flow-label",
                                              "invalid-alt-flow-label"};

TEST(Probe, EveryCheckPassesAgainstTheEngineAndLeavesNothingOpen) {
  RemoteCm remote(0, kHold);
  ASSERT_TRUE(remote.ok());
  ProbeRun r = probe(remote);
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.results.size(), checks().size());
  for (const auto& c : r.results) {
    if (kPortDependent.contains(c.check)) {
      EXPECT_EQ(c.result, Verdict::NotApplicable) << c.check;
      EXPECT_NE(c.seen.find("depends on the p"), std::string::npos) << c.check << ": " << c.seen;
      continue;
    }
    EXPECT_EQ(c.result, Verdict::Pass) << table(r.results);
    EXPECT_EQ(c.left_open, 0u) << c.check;
    EXPECT_FALSE(c.section.empty());
    EXPECT_FALSE(c.expected.empty());
  }
  EXPECT_TRUE(remote_drains(remote)) << remote.connections() << " connections left";
}

// Which checks catch which broken rule (the stale rule in each state the probe puts a
// connection in): every mutation the simulator has must be here.
const std::map<std::string, std::set<std::string>> kCaughtBy = {
    {"skip-stale-dreq", {"stale-req", "stale-req-half-open", "stale-rep"}},
    {"never-time-out-dreq", {"dreq-unanswered"}},
    {"ignore-rej-on-established", {"rej-established"}},
};

TEST(Probe, EachBrokenRuleIsReportedAsExactlyItsCheck) {
  for (const auto& m : sim::mutation_names()) {
    SCOPED_TRACE(std::string(m.name));
    auto caught = kCaughtBy.find(std::string(m.name));
    ASSERT_NE(caught, kCaughtBy.end()) << "no probe check is known to catch this mutation";
    RemoteCm remote(static_cast<uint32_t>(m.mutation), kHold);
    ASSERT_TRUE(remote.ok());
    ProbeRun r = probe(remote);
    ASSERT_EQ(r.error, "");
    std::set<std::string> deviations;
    for (const auto& c : r.results)
      if (c.result != Verdict::Pass && !kPortDependent.contains(c.check))
        deviations.insert(c.check);
    EXPECT_EQ(deviations, caught->second) << table(r.results);
  }
}

TEST(Probe, OnlyTheNamedChecksRun) {
  RemoteCm remote(0, kHold);
  ASSERT_TRUE(remote.ok());
  ProbeRun r = probe(remote, {"dreq-unknown", "class-port-info"});
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.results.size(), 2u);
  EXPECT_EQ(r.results[0].check, "class-port-info");  // in the probe's order
  EXPECT_EQ(r.results[1].check, "dreq-unknown");
}

// The checks of the REQ fields, one by one, each with what the engine answers: the reason the
// spec assigns (from the engine's REQ rules, and REJ 31 for a class version it does not speak).
TEST(Probe, EachInvalidReqFieldGetsItsRejReasonFromTheEngine) {
  RemoteCm remote(0, kHold);
  ASSERT_TRUE(remote.ok());
  const std::map<std::string, std::string> kRej = {
      {"invalid-transport", "REJ(9)"},      {"invalid-mtu", "REJ(26)"},
      {"invalid-gid", "REJ(12)"},           {"invalid-packet-rate", "REJ(17)"},
      {"invalid-alt-gid", "REJ(18)"},       {"invalid-alt-packet-rate", "REJ(23)"},
      {"invalid-class-version", "REJ(31)"}, {"invalid-qpn", "REJ(9)"}};
  std::vector<std::string> names;
  for (const auto& [name, rej] : kRej) names.push_back(name);
  ProbeRun r = probe(remote, names);
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.results.size(), kRej.size());
  for (const auto& c : r.results) {
    EXPECT_EQ(c.result, Verdict::Pass) << c.check << ": " << c.seen;
    EXPECT_EQ(c.seen.rfind(kRej.at(c.check) + " at ", 0), 0u) << c.check << ": " << c.seen;
  }
  // REJ 31 says which class version the engine speaks.
  auto cv = std::find_if(r.results.begin(), r.results.end(),
                         [](const CheckResult& c) { return c.check == "invalid-class-version"; });
  ASSERT_NE(cv, r.results.end());
  EXPECT_NE(cv->seen.find(", ARI 02"), std::string::npos) << cv->seen;
}

// A run of n/a rows alone sends nothing: it is not a remote that never answers.
TEST(Probe, PortDependentRowsAloneSendNothingAndRun) {
  RemoteCm remote(0, kHold);
  ASSERT_TRUE(remote.ok());
  ProbeRun r = probe(remote, {"invalid-sl", "invalid-alt-flow-label"});
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.results.size(), 2u);
  for (const auto& c : r.results) {
    EXPECT_EQ(c.result, Verdict::NotApplicable);
    EXPECT_EQ(c.left_open, 0u);
  }
}

TEST(Probe, AnUnknownCheckNameCannotRun) {
  RemoteCm remote(0, kHold);
  ASSERT_TRUE(remote.ok());
  ProbeRun r = probe(remote, {"no-such-check"});
  EXPECT_EQ(r.error, "no check named 'no-such-check'");
}

TEST(Probe, ARemoteThatNeverAnswersCannotRun) {
  // A bound socket nobody reads: the MADs go nowhere, nothing comes back.
  auto silent = UdpTransport::open(*parse_endpoint("127.0.0.1", 0));
  ASSERT_TRUE(silent);
  auto t = UdpTransport::open(*parse_endpoint("127.0.0.1", 0));
  ASSERT_TRUE(t);
  ProbeOptions o;
  o.remote = address_of(silent.value()->endpoint());
  o.local_ip = t.value()->endpoint();
  o.remote_ip = silent.value()->endpoint();
  o.only = {"class-port-info", "dreq-unknown"};
  o.answer_wait = 100ms;
  auto r = run(*t.value(), o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("not one MAD"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace ibcm::probe::test
