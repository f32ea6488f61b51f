// Deterministic simulation testing: random fabrics, faults and workloads under invariant checks.
//
// How the mutation checks work: an invariant that never fires proves nothing, so each kind of
// check is shown to catch a broken engine. Config::mutations (ibcm::Mutation, set for every node
// through RandomRunOptions::mutations) makes the engine break one rule on purpose: skip the DREQ
// for a stale connection, never time out a DREQ, ignore a REJ that gives up an ESTABLISHED
// connection. expect_caught() runs a range of seeds with the mutation and requires that enough
// of them fail with the violation that names that rule (not merely any violation), and that
// each such seed passes with the engine intact, so the violation is the mutation's doing. By
// hand: `ibcm sim --random --seeds 1..200 --mutation NAME` (names: ibcm::sim::mutation_names()).
#include "ibcm/sim/random_run.h"

#include <gtest/gtest.h>

namespace ibcm::sim::test {
namespace {

bool any_violation(const RandomRunResult& r, std::string_view text) {
  for (const auto& v : r.violations)
    if (v.find(text) != std::string::npos) return true;
  return false;
}

TEST(RandomRun, ManySeedsHoldEveryInvariant) {
  RandomRunStats sum;
  double max_loss = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    RandomRunOptions o;
    o.seed = seed;
    auto r = run_random(o);
    ASSERT_TRUE(r.passed()) << describe(r) << "\n" << r.violations.front();
    sum.crashes += r.stats.crashes;
    sum.stale_rejects += r.stats.stale_rejects;
    sum.dreq_timeouts += r.stats.dreq_timeouts;
    sum.laps += r.stats.laps;
    sum.sidrs += r.stats.sidrs;
    sum.partitions += r.stats.partitions;
    sum.one_sided_after_heal += r.stats.one_sided_after_heal;
    sum.one_sided_peer_rebooted += r.stats.one_sided_peer_rebooted;
    sum.one_sided_last_word_lost += r.stats.one_sided_last_word_lost;
    sum.qpn_reuses_refused += r.stats.qpn_reuses_refused;
    sum.reqs_waited += r.stats.reqs_waited;
    // Every one-sided connection was explained; any other is a violation (passed() above).
    EXPECT_EQ(r.stats.one_sided_after_heal,
              r.stats.one_sided_peer_rebooted + r.stats.one_sided_last_word_lost)
        << describe(r);
    sum.established += r.stats.established;
    max_loss = std::max(max_loss, r.stats.loss);
    EXPECT_GE(r.stats.nodes, 2u);
    EXPECT_LE(r.stats.nodes, 64u);
  }
  // The workload reaches the paths the invariants are about.
  EXPECT_GT(sum.crashes, 100u);
  EXPECT_GT(sum.stale_rejects, 50u);
  EXPECT_GT(sum.dreq_timeouts, 100u);
  EXPECT_GT(sum.laps, 50u);
  EXPECT_GT(sum.sidrs, 100u);
  EXPECT_GT(sum.partitions, 100u);
  EXPECT_GT(sum.one_sided_peer_rebooted, 100u);
  EXPECT_GT(sum.one_sided_last_word_lost, 100u);
  EXPECT_GT(sum.qpn_reuses_refused, 300u);
  EXPECT_GT(sum.reqs_waited, 10u);  // the REQ window (half the runs, 1 to 4) filled: 32 times here
  EXPECT_GT(sum.established, 1000u);
  EXPECT_GT(max_loss, 0.4);
}

TEST(RandomRun, ASeedIsItsOwnReproduction) {
  RandomRunOptions o;
  o.seed = 42;
  auto a = run_random(o), b = run_random(o);
  EXPECT_EQ(a.fabric->trace().mads, b.fabric->trace().mads);
  EXPECT_EQ(a.fabric->ladder(), b.fabric->ladder());
  EXPECT_EQ(describe(a), describe(b));
  o.seed = 43;
  EXPECT_NE(describe(run_random(o)), describe(a));
}

// At least `min_caught` of seeds 1..seeds fail with `violation` when the engine has mutation m,
// and each of those passes with the engine intact.
void expect_caught(Mutation m, std::string_view violation, uint64_t seeds = 50,
                   int min_caught = 10) {
  int caught = 0;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    RandomRunOptions o;
    o.seed = seed;
    o.mutations = static_cast<uint32_t>(m);
    auto broken = run_random(o);
    if (!any_violation(broken, violation)) continue;
    ++caught;
    o.mutations = 0;
    auto intact = run_random(o);
    EXPECT_TRUE(intact.passed()) << describe(intact);
  }
  EXPECT_GE(caught, min_caught) << violation;
}

TEST(RandomRun, MutationSkippingTheStaleDreqIsCaught) {
  expect_caught(Mutation::SkipStaleDreq, "but the stale connection stays in");
}

TEST(RandomRun, MutationNeverTimingOutDreqIsCaught) {
  expect_caught(Mutation::NeverTimeOutDreq, "stuck in DREQ_SENT with no timer left");
}

// The peer, up all along, gives an ESTABLISHED connection up with a REJ (its REP timed out
// while our RTU was lost, or its consumer destroyed it) and we ignore it: a one-sided
// connection that is no longer excused as "the peer rebooted" or "its last word was lost".
// Rarer than the others (it needs a REP timeout or a destroy at the right moment): 300 seeds.
TEST(RandomRun, MutationIgnoringARejOnEstablishedIsCaught) {
  expect_caught(Mutation::IgnoreRejOnEstablished, "gave it up and its REJ reached this node", 300,
                5);
}

TEST(RandomRun, NodeCountFollowsTheOptions) {
  RandomRunOptions o;
  o.min_nodes = o.max_nodes = 2;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    o.seed = seed;
    auto r = run_random(o);
    EXPECT_EQ(r.stats.nodes, 2u);
    EXPECT_TRUE(r.passed()) << describe(r);
  }
}

}  // namespace
}  // namespace ibcm::sim::test
