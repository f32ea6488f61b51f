// The link model's random faults match their configured rates, and scripted rules act on
// exactly the MADs they name.
#include <gtest/gtest.h>

#include "sim/workload.h"

namespace ibcm::sim::test {
namespace {

using Names = std::vector<std::string>;

std::vector<MadRecord> from_to(const Fabric& f, NodeId from, NodeId to) {
  std::vector<MadRecord> out;
  for (const auto& m : f.trace().mads)
    if (m.from == from && m.to == to) out.push_back(m);
  return out;
}

TEST(Link, RandomFaultsMatchTheirProbabilities) {
  constexpr int kN = 10000;
  LinkParams lp;
  lp.loss = 0.1;
  lp.duplicate = 0.05;
  lp.reorder = 0.2;
  lp.reorder_delay = 100us;
  Fabric f(config(2, 7));
  f.set_link(A, B, lp);  // B -> A keeps the clean default
  EXPECT_EQ(f.link(B, A).loss, 0.0);
  for (int i = 0; i < kN; ++i) {
    f.inject(A, f.address(B), stray_dreq(i));
    f.run_for(10us);
  }
  ASSERT_EQ(f.run_until_idle(10s), Stop::Idle);

  const auto ab = from_to(f, A, B);
  int lost = 0, dups = 0, reordered = 0, delivered = 0, inversions = 0;
  Time last_arrival{-1};
  for (const auto& m : ab) {
    lost += m.fate == Fate::Lost;
    dups += m.duplicate;
    reordered += m.reordered;
    delivered += m.fate == Fate::Delivered;
    if (m.arrival && !m.duplicate) {
      inversions += *m.arrival < last_arrival;
      last_arrival = std::max(last_arrival, *m.arrival);
    }
  }
  EXPECT_EQ(static_cast<int>(ab.size()) - dups, kN);
  EXPECT_NEAR(lost / double(kN), 0.1, 0.02);
  EXPECT_NEAR(dups / double(kN - lost), 0.05, 0.015);
  EXPECT_NEAR(reordered / double(ab.size() - lost), 0.2, 0.03);
  // Held-back MADs were overtaken by later ones (the gap between sends is 10 us).
  EXPECT_GT(inversions, kN / 20);
  EXPECT_EQ(delivered, static_cast<int>(ab.size()) - lost);
  EXPECT_EQ(f.stats().lost, static_cast<uint64_t>(lost));
  EXPECT_EQ(f.stats().duplicated, static_cast<uint64_t>(dups));
  // Every copy that arrived reached B's CM, and each got its DREP over the clean link back.
  EXPECT_EQ(f.cm(B).counters().of(CountedMsg::Dreq).rx, static_cast<uint64_t>(delivered));
  const auto ba = from_to(f, B, A);
  EXPECT_EQ(ba.size(), static_cast<size_t>(delivered));
  for (const auto& m : ba) {
    EXPECT_EQ(m.fate, Fate::Delivered);
    EXPECT_FALSE(m.reordered);
    EXPECT_EQ(*m.arrival - m.sent, LinkParams{}.latency);
  }
}

TEST(Link, JitterStaysWithinItsBound) {
  LinkParams lp;
  lp.latency = 10us;
  lp.jitter = 4us;
  Fabric f(config(2, 3, lp));
  for (int i = 0; i < 2000; ++i) f.inject(A, f.address(B), stray_dreq(i));
  f.run_until_idle(1s);
  Time lo = 1h, hi{0};
  for (const auto& m : f.trace().mads) {
    lo = std::min(lo, *m.arrival - m.sent);
    hi = std::max(hi, *m.arrival - m.sent);
  }
  EXPECT_GE(lo, 10us);
  EXPECT_LE(hi, 14us);
  EXPECT_LT(lo, 10500ns);
  EXPECT_GT(hi, 13500ns);
}

TEST(Rules, TheFirstRepIsLost) {
  StarRun r(config(2, 1));
  const RuleId rule = r.fabric.add_rule(drop_next(wire::AttrId::Rep));
  EXPECT_EQ(r.run(), Stop::Idle);
  const auto reps = r.fabric.mads_of(wire::AttrId::Rep);
  ASSERT_GE(reps.size(), 2u);
  EXPECT_EQ(reps[0].fate, Fate::Dropped);
  for (size_t i = 1; i < reps.size(); ++i) EXPECT_EQ(reps[i].fate, Fate::Delivered);
  EXPECT_EQ(r.fabric.stats().dropped, 1u);
  EXPECT_EQ(r.fabric.rule_hits(rule), 1u);
  EXPECT_TRUE(r.fabric.rule_spent(rule));
  // Nothing else was touched, and the retransmission completed the connection.
  for (const auto& m : r.fabric.trace().mads) {
    if (m.attr() != static_cast<uint16_t>(wire::AttrId::Rep)) {
      EXPECT_EQ(m.fate, Fate::Delivered);
    }
  }
  EXPECT_EQ(r.fabric.event_names(A),
            (Names{"rep_received", "established", "drep_received", "timewait_exit"}));
}

TEST(Rules, SkipAndCountNameExactlyWhichMatchesAreDropped) {
  Fabric f(config(2, 1));
  FaultRule rule = drop_next(wire::AttrId::Dreq, A, B, 2);
  rule.skip = 2;
  f.add_rule(rule);
  for (int i = 0; i < 6; ++i) f.inject(A, f.address(B), stray_dreq(i));
  f.run_until_idle(1s);
  std::vector<Fate> fates;
  for (const auto& m : from_to(f, A, B)) fates.push_back(m.fate);
  EXPECT_EQ(fates, (std::vector<Fate>{Fate::Delivered, Fate::Delivered, Fate::Dropped,
                                      Fate::Dropped, Fate::Delivered, Fate::Delivered}));
}

TEST(Rules, MatchBySourceAndDestination) {
  StarRun r(config(3, 1));
  r.fabric.add_rule(drop_next(wire::AttrId::Req, A, C));
  r.run();
  const auto reqs = r.fabric.mads_of(wire::AttrId::Req);
  ASSERT_GE(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].to, B);
  EXPECT_EQ(reqs[0].fate, Fate::Delivered);
  EXPECT_EQ(reqs[1].to, C);
  EXPECT_EQ(reqs[1].fate, Fate::Dropped);
  EXPECT_EQ(reqs[2].to, C);  // the retry
  EXPECT_EQ(reqs[2].fate, Fate::Delivered);
  // DREQs (B to A direction never matches, A to C is another attribute) pass.
  EXPECT_EQ(r.fabric.stats().dropped, 1u);
}

TEST(Rules, WherePredicateSelectsByContent) {
  Fabric f(config(2, 1));
  FaultRule rule = drop_next(wire::AttrId::Dreq);
  rule.where = [](const wire::Mad& m) {
    return std::get<wire::Dreq>(m.message).local_comm_id == 0x10003;
  };
  f.add_rule(rule);
  for (int i = 0; i < 6; ++i) f.inject(A, f.address(B), stray_dreq(i));
  f.run_until_idle(1s);
  const auto ab = from_to(f, A, B);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(ab[i].fate, i == 3 ? Fate::Dropped : Fate::Delivered);
}

TEST(Rules, DuplicateAndDelay) {
  Fabric f(config(2, 1));
  f.add_rule(duplicate_next(wire::AttrId::Dreq));
  f.add_rule(delay_next(wire::AttrId::Dreq, 3ms));
  f.inject(A, f.address(B), stray_dreq(0));  // duplicated
  f.inject(A, f.address(B), stray_dreq(1));  // the first rule is spent: delayed
  f.inject(A, f.address(B), stray_dreq(2));  // both spent: plain
  f.run_until_idle(1s);
  const auto ab = from_to(f, A, B);
  ASSERT_EQ(ab.size(), 4u);
  EXPECT_FALSE(ab[0].duplicate);
  EXPECT_TRUE(ab[1].duplicate);
  EXPECT_EQ(ab[1].bytes, ab[0].bytes);
  EXPECT_EQ(*ab[2].arrival - ab[2].sent, 3ms + LinkParams{}.latency);
  EXPECT_EQ(*ab[3].arrival - ab[3].sent, LinkParams{}.latency);
  for (const auto& m : ab) EXPECT_EQ(m.fate, Fate::Delivered);
  EXPECT_EQ(f.cm(B).counters().of(CountedMsg::Dreq).rx, 4u);
  EXPECT_EQ(f.stats().duplicated, 1u);
  EXPECT_EQ(f.stats().delayed, 1u);
  // The delayed DREQ's answer comes last.
  EXPECT_EQ(f.trace().mads.back().arrival, ab[2].arrival.value() + LinkParams{}.latency);
}

}  // namespace
}  // namespace ibcm::sim::test
