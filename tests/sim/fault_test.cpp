// Crashes, reboots and partitions: what is lost, what survives, and that the CM recovers.
#include <gtest/gtest.h>

#include <stdexcept>

#include "sim/workload.h"

namespace ibcm::sim::test {
namespace {

using Names = std::vector<std::string>;

struct Pair {
  Pair() : f(config(2, 1)) {
    AutoPolicy sp;
    sp.listen = {kService};
    server = AutoConsumer(sp);
    server.attach(f, B);
    client.attach(f, A);
  }
  Fabric f;
  AutoConsumer server, client;
};

TEST(Crash, InFlightMadsToTheNodeAreLost) {
  Pair p;
  ASSERT_TRUE(p.client.connect(p.f, A, B, kService).has_value());
  p.f.schedule(2us, [](Fabric& f) { f.crash(B); });
  p.f.run_until(1s);
  ASSERT_EQ(p.f.trace().mads.size(), 1u);
  EXPECT_EQ(p.f.trace().mads[0].fate, Fate::NodeDown);
  EXPECT_EQ(p.f.stats().node_down, 1u);
  EXPECT_TRUE(p.f.event_names(B).empty());
  EXPECT_FALSE(p.f.is_up(B));
  EXPECT_EQ(p.f.find_cm(B), nullptr);
  EXPECT_THROW(p.f.cm(B), std::logic_error);
}

TEST(Crash, RebootedNodeListensAgainAndTheRetryConnects) {
  Pair p;
  ASSERT_TRUE(p.client.connect(p.f, A, B, kService).has_value());
  p.f.schedule(2us, [](Fabric& f) { f.crash(B); });
  p.f.schedule(6s, [](Fabric& f) { f.reboot(B); });
  EXPECT_EQ(p.f.run_until_idle(60s), Stop::Idle);
  EXPECT_EQ(p.f.boots(B), 2u);
  const auto reqs = p.f.mads_of(wire::AttrId::Req);
  ASSERT_GE(reqs.size(), 3u);
  for (const auto& r : reqs) EXPECT_EQ(r.fate, r.sent < 6s ? Fate::NodeDown : Fate::Delivered);
  EXPECT_EQ(reqs.back().fate, Fate::Delivered);
  EXPECT_EQ(p.f.event_names(A), (Names{"rep_received", "established"}));
  EXPECT_EQ(p.f.event_names(B), (Names{"req_received", "rtu_received", "established"}));
}

TEST(Crash, MadsForTheOldIncarnationAreLostEvenAfterAQuickReboot) {
  Pair p;
  ASSERT_TRUE(p.client.connect(p.f, A, B, kService).has_value());
  // Crash and reboot both happen while the REQ (5 us latency) is on the wire.
  p.f.schedule(1us, [](Fabric& f) { f.reboot(B); });
  p.f.run_until(1s);
  EXPECT_EQ(p.f.trace().mads[0].fate, Fate::NodeDown);
  EXPECT_TRUE(p.f.event_names(B).empty());
  EXPECT_TRUE(p.f.is_up(B));
}

TEST(Crash, DelayedConsumerActionsDieWithTheNode) {
  Pair p;
  p.server.policy().on_req = AutoPolicy::OnReq::MraThenAccept;
  p.server.policy().accept_delay = 100ms;
  ASSERT_TRUE(p.client.connect(p.f, A, B, kService).has_value());
  p.f.schedule(50ms, [](Fabric& f) { f.reboot(B); });
  p.f.run_until(1s);
  EXPECT_EQ(p.server.tally().mra_sent, 1u);
  EXPECT_EQ(p.server.tally().accepted, 0u);
  EXPECT_TRUE(p.f.mads_of(wire::AttrId::Rep).empty());
}

TEST(Crash, RebootReusesQpnsAndTheStaleConnectionIsCleanedUp) {
  Pair p;
  ASSERT_TRUE(p.client.connect(p.f, A, B, kService).has_value());
  p.f.run_until(1s);
  ASSERT_EQ(p.f.event_names(A), (Names{"rep_received", "established"}));
  p.f.reboot(B);
  p.f.run_for(1s);
  // A's new REQ reaches a B that forgot the first connection and hands out QPN 0x100 again: A
  // still holds (0x100, B's CA GUID), rejects the REP with reason 10 and tears the old one down.
  ASSERT_TRUE(p.client.connect(p.f, A, B, kService).has_value());
  EXPECT_EQ(p.f.run_until_idle(60s), Stop::Idle);

  const auto reps = p.f.mads_of(wire::AttrId::Rep);
  ASSERT_EQ(reps.size(), 2u);
  EXPECT_EQ(std::get<wire::Rep>(wire::decode(reps[0].bytes)->message).local_qpn, 0x100u);
  EXPECT_EQ(std::get<wire::Rep>(wire::decode(reps[1].bytes)->message).local_qpn, 0x100u);
  const auto rejs = p.f.mads_of(wire::AttrId::Rej);
  ASSERT_EQ(rejs.size(), 1u);
  EXPECT_EQ(std::get<wire::Rej>(wire::decode(rejs[0].bytes)->message).reason,
            wire::RejReason::StaleConnection);
  const auto dreqs = p.f.mads_of(wire::AttrId::Dreq);
  ASSERT_EQ(dreqs.size(), 1u);
  EXPECT_EQ(std::get<wire::Dreq>(wire::decode(dreqs[0].bytes)->message).remote_qpn, 0x100u);
  EXPECT_EQ(p.f.mads_of(wire::AttrId::Drep).size(), 1u);  // B answers for a connection it lost
  EXPECT_EQ(p.f.event_names(A), (Names{"rep_received", "established", "stale_connection", "aborted",
                                       "drep_received", "timewait_exit", "timewait_exit"}));
  EXPECT_EQ(p.f.cm(A).connection_count(), 0u);
}

TEST(Partition, BlocksUntilHealed) {
  StarRun r(config(3, 1));
  r.fabric.isolate({B});
  EXPECT_FALSE(r.fabric.reachable(A, B));
  EXPECT_FALSE(r.fabric.reachable(B, C));
  EXPECT_TRUE(r.fabric.reachable(A, C));
  r.fabric.schedule(10s, [](Fabric& f) { f.heal_all(); });
  EXPECT_EQ(r.run(), Stop::Idle);
  EXPECT_TRUE(r.fabric.reachable(A, B));

  int blocked = 0;
  for (const auto& m : r.fabric.mads_of(wire::AttrId::Req)) {
    if (m.to == B && m.sent < 10s) {
      EXPECT_EQ(m.fate, Fate::Partitioned);
      ++blocked;
    } else {
      EXPECT_EQ(m.fate, Fate::Delivered);
    }
  }
  EXPECT_GE(blocked, 2);
  EXPECT_EQ(r.fabric.stats().partitioned, static_cast<uint64_t>(blocked));
  // Both connections came up, B's only after the heal.
  const auto b_events = r.fabric.events_of(B);
  ASSERT_FALSE(b_events.empty());
  EXPECT_GT(b_events.front().time, 10s);
  EXPECT_EQ(r.client.tally().rtu_sent, 2u);
}

TEST(Partition, CutsOnlyBetweenItsTwoSidesAndHealsById) {
  Fabric f(config(3, 1));
  const PartitionId p1 = f.cut({A}, {B});
  const PartitionId p2 = f.cut({C}, {B});
  EXPECT_FALSE(f.reachable(A, B));
  EXPECT_FALSE(f.reachable(B, A));
  EXPECT_TRUE(f.reachable(A, C));
  f.heal(p1);
  EXPECT_TRUE(f.reachable(A, B));
  EXPECT_FALSE(f.reachable(C, B));
  f.heal(p2);
  EXPECT_TRUE(f.reachable(C, B));
}

TEST(Partition, MadsInFlightWhenItFormsAreLost) {
  Fabric f(config(2, 1));
  f.inject(A, f.address(B), stray_dreq(0));
  f.schedule(2us, [](Fabric& fab) { fab.isolate({A}); });
  f.run_until_idle(1s);
  ASSERT_EQ(f.trace().mads.size(), 1u);
  EXPECT_EQ(f.trace().mads[0].fate, Fate::Partitioned);
  EXPECT_EQ(f.cm(B).counters().of(CountedMsg::Dreq).rx, 0u);
}

}  // namespace
}  // namespace ibcm::sim::test
