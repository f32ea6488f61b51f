// The probe against ibcm's own engine (tests/probe/remote_cm.h) over MAD-over-UDP on loopback:
// every check passes against the engine as it is, and each rule the simulator can break on
// purpose (ibcm::Mutation) is reported as exactly the check for that rule, nothing else.
#include "ibcm/probe/probe.h"

#include <gtest/gtest.h>

#include <set>

#include "ibcm/sim/random_run.h"
#include "probe/remote_cm.h"

namespace ibcm::probe::test {
namespace {

using namespace std::chrono_literals;

// The remote disconnects on its own after `kHold`: later than a check waits for an answer (so a
// DREQ it sends is never mistaken for one the check asked for), sooner than the probe waits for
// it (dreq-unanswered).
constexpr Time kAnswerWait = 300ms;
constexpr Time kHold = 1000ms;

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

TEST(Probe, EveryCheckPassesAgainstTheEngineAndLeavesNothingOpen) {
  RemoteCm remote(0, kHold);
  ASSERT_TRUE(remote.ok());
  ProbeRun r = probe(remote);
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.results.size(), checks().size());
  for (const auto& c : r.results) {
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
      if (c.result != Verdict::Pass) deviations.insert(c.check);
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
