// Deterministic simulation testing: random fabrics, faults and workloads under invariant checks.
// The mutation tests are how we know the checks have teeth: each breaks one engine rule through
// Config::mutations (ibcm::Mutation) and must be caught within a few seeds, with the violation
// that names that rule; the same seeds pass with the engine intact.
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
  EXPECT_GT(sum.one_sided_after_heal, 10u);
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

void expect_caught(Mutation m, std::string_view violation) {
  int caught = 0;
  for (uint64_t seed = 1; seed <= 50; ++seed) {
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
  EXPECT_GE(caught, 10) << violation;
}

TEST(RandomRun, MutationSkippingTheStaleDreqIsCaught) {
  expect_caught(Mutation::SkipStaleDreq, "but the stale connection stays in");
}

TEST(RandomRun, MutationNeverTimingOutDreqIsCaught) {
  expect_caught(Mutation::NeverTimeOutDreq, "stuck in DREQ_SENT with no timer left");
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
