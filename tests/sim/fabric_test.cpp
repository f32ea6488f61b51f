// The fabric's core promises: the basic workload runs end to end with exact event sequences,
// runs are pure functions of the seed, and every run loop is bounded.
#include "ibcm/sim/fabric.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "ibcm/wire/print.h"
#include "sim/workload.h"

namespace ibcm::sim::test {
namespace {

using Names = std::vector<std::string>;

TEST(Fabric, NodesHaveNamesAddressesAndGuids) {
  Fabric f(config(3, 1));
  EXPECT_EQ(f.name(A), "A");
  EXPECT_EQ(f.name(C), "C");
  EXPECT_EQ(wire::gid_to_string(f.address(B).gid), "::ffff:10.0.0.2");
  EXPECT_EQ(f.cm(B).config().local, f.address(B));
  EXPECT_EQ(f.cm(B).config().ca_guid, f.ca_guid(B));
  EXPECT_NE(f.ca_guid(A), f.ca_guid(B));
  EXPECT_NE(f.cm(A).config().seed, f.cm(B).config().seed);
  EXPECT_EQ(f.node_of(f.address(C).gid), C);
  EXPECT_FALSE(f.node_of(wire::Gid{}).has_value());

  Fabric big(config(300, 1));
  EXPECT_EQ(big.name(27), "N27");
  EXPECT_EQ(wire::gid_to_string(big.address(299).gid), "::ffff:10.0.1.44");
}

TEST(Fabric, ConnectAcceptRtuDisconnect) {
  StarRun r(config(2, 1));
  EXPECT_EQ(r.run(), Stop::Idle);
  EXPECT_EQ(r.fabric.event_names(A),
            (Names{"rep_received", "established", "drep_received", "timewait_exit"}));
  EXPECT_EQ(r.fabric.event_names(B), (Names{"req_received", "rtu_received", "established",
                                            "dreq_received", "timewait_exit"}));
  Names mads;
  for (const auto& m : r.fabric.trace().mads) {
    mads.emplace_back(wire::attr_name(m.attr()));
    EXPECT_EQ(m.fate, Fate::Delivered);
    EXPECT_EQ(*m.arrival - m.sent, LinkParams{}.latency);
  }
  EXPECT_EQ(mads, (Names{"REQ", "REP", "RTU", "DREQ", "DREP"}));
  EXPECT_EQ(r.fabric.stats().sent, 5u);
  EXPECT_EQ(r.fabric.stats().delivered, 5u);
  // Everything ended: no connection objects, no timers left behind.
  EXPECT_EQ(r.fabric.cm(A).connection_count(), 0u);
  EXPECT_EQ(r.fabric.cm(B).connection_count(), 0u);
  EXPECT_EQ(r.fabric.cm(A).timer_count(), 0u);
  EXPECT_TRUE(r.fabric.idle());
}

TEST(Fabric, EventsAreLoggedWithTheirTimesInOrder) {
  StarRun r(config(2, 1));
  r.run();
  const auto& ev = r.fabric.trace().events;
  ASSERT_FALSE(ev.empty());
  for (size_t i = 1; i < ev.size(); ++i) {
    EXPECT_LT(ev[i - 1].seq, ev[i].seq);
    EXPECT_LE(ev[i - 1].time, ev[i].time);
  }
  // The REQ arrives one link latency after it was sent at time 0.
  EXPECT_EQ(r.fabric.events_of(B).front().time, LinkParams{}.latency);
  EXPECT_TRUE(std::holds_alternative<ev::ReqReceived>(r.fabric.events_of(B).front().event));
}

LinkParams faulty() {
  LinkParams lp;
  lp.jitter = 3us;
  lp.loss = 0.2;
  lp.duplicate = 0.2;
  lp.reorder = 0.3;
  return lp;
}

struct Outcome {
  std::vector<MadRecord> mads;
  std::string ladder;
  std::string pcap;
};

Outcome run_star(uint64_t seed, const std::string& pcap_name) {
  StarRun r(config(6, seed, faulty()));
  EXPECT_EQ(r.run(), Stop::Idle);
  const std::string path = ::testing::TempDir() + pcap_name;
  EXPECT_EQ(r.fabric.write_pcap(path), "");
  return {r.fabric.trace().mads, r.fabric.ladder(), slurp(path)};
}

TEST(Fabric, SameSeedGivesIdenticalTraceLadderAndPcap) {
  Outcome a = run_star(42, "sim_det_a.pcap");
  Outcome b = run_star(42, "sim_det_b.pcap");
  EXPECT_EQ(a.mads, b.mads);
  EXPECT_EQ(a.ladder, b.ladder);
  EXPECT_EQ(a.pcap, b.pcap);
  EXPECT_GT(a.pcap.size(), 24u);
  // The faults fired, so the determinism covers them.
  bool lost = false, dup = false;
  for (const auto& m : a.mads) {
    lost |= m.fate == Fate::Lost;
    dup |= m.duplicate;
  }
  EXPECT_TRUE(lost);
  EXPECT_TRUE(dup);
}

TEST(Fabric, DifferentSeedGivesADifferentRun) {
  Outcome a = run_star(42, "sim_seed_a.pcap");
  Outcome b = run_star(43, "sim_seed_b.pcap");
  EXPECT_NE(a.ladder, b.ladder);
  EXPECT_NE(a.pcap, b.pcap);
}

TEST(Fabric, UnknownDestinationIsCountedAndDropped) {
  Fabric f(config(2, 1));
  Address nowhere;
  nowhere.gid = wire::Gid{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 0, 1};
  f.inject(A, nowhere, stray_dreq(1));
  EXPECT_EQ(f.run_until_idle(1s), Stop::Idle);
  EXPECT_EQ(f.stats().unroutable, 1u);
  ASSERT_EQ(f.trace().mads.size(), 1u);
  EXPECT_EQ(f.trace().mads[0].fate, Fate::Unroutable);
  EXPECT_EQ(f.trace().mads[0].to, kAnyNode);
  EXPECT_EQ(f.cm(B).counters().of(CountedMsg::Dreq).rx, 0u);
}

TEST(Fabric, RunUntilStopsAtTheLimitAndSetsTheClock) {
  StarRun r(config(2, 1));
  // The connection is established at 15 us and torn down 10 ms later.
  ASSERT_TRUE(r.client.connect(r.fabric, A, B, kService).has_value());
  EXPECT_EQ(r.fabric.run_until(5ms), Stop::TimeLimit);
  EXPECT_EQ(r.fabric.now(), 5ms);
  EXPECT_EQ(r.fabric.event_names(A), (Names{"rep_received", "established"}));
  const ConnId c = std::get<ev::Established>(r.fabric.events_of(A)[1].event).conn;
  EXPECT_EQ(r.fabric.cm(A).state(c), State::Established);
  EXPECT_EQ(r.fabric.run_until(1h), Stop::Idle);
  EXPECT_EQ(r.fabric.now(), 1h);
}

TEST(Fabric, RunLoopsAreBoundedBySteps) {
  Fabric f(config(2, 1));
  // An action that reschedules itself at the same instant never lets time advance.
  std::function<void(Fabric&)> again = [&again](Fabric& fab) { fab.schedule(fab.now(), again); };
  f.schedule(1ms, again);
  EXPECT_EQ(f.run_until_idle(1s, 1000), Stop::StepLimit);
  EXPECT_EQ(f.run_until(1s, 1000), Stop::StepLimit);
  EXPECT_EQ(f.now(), 1ms);
  EXPECT_EQ(f.stats().steps, 2000u);
}

TEST(Fabric, RunUntilIdleStopsAtTheTimeLimit) {
  Fabric f(config(2, 1));
  f.schedule(2s, [](Fabric&) {});
  EXPECT_EQ(f.run_until_idle(1s), Stop::TimeLimit);
  EXPECT_EQ(f.next_time(), 2s);
  EXPECT_EQ(f.run_until_idle(3s), Stop::Idle);
  EXPECT_EQ(f.now(), 2s);
}

TEST(Fabric, StepIsNotReentrant) {
  StarRun r(config(2, 1));
  r.fabric.set_consumer(B, [](Fabric& f, NodeId, const Event&) { f.step(); });
  EXPECT_THROW(r.run(), std::logic_error);
  // The guard is released by the throw: the fabric still runs.
  r.fabric.set_consumer(B, nullptr);
  EXPECT_NO_THROW(r.fabric.run_until_idle(1s));
}

TEST(Fabric, ConsumerCallsOutsideAStepAreDrainedFirst) {
  Fabric f(config(2, 1));
  ASSERT_TRUE(f.cm(B).listen(kService).has_value());
  ASSERT_TRUE(
      f.cm(A).connect(f.now(), make_connect_params(f, A, B, kService, 0x10, 0)).has_value());
  // Asking what comes next sends the REQ: its arrival is what comes next.
  EXPECT_EQ(f.next_time(), LinkParams{}.latency);
  ASSERT_EQ(f.trace().mads.size(), 1u);
  EXPECT_EQ(f.trace().mads[0].fate, Fate::InFlight);
  EXPECT_EQ(f.trace().mads[0].attr(), static_cast<uint16_t>(wire::AttrId::Req));
  EXPECT_TRUE(f.step());
  EXPECT_EQ(f.trace().mads[0].fate, Fate::Delivered);
  EXPECT_EQ(f.event_names(B), (Names{"req_received"}));
  EXPECT_EQ(f.now(), LinkParams{}.latency);
}

TEST(Fabric, ScheduledNodeActionsRunAtTheirTimeAndAreDrained) {
  Fabric f(config(2, 1));
  ASSERT_TRUE(f.cm(B).listen(kService).has_value());
  f.schedule(7ms, A, [](Fabric& fab, NodeId n) {
    ASSERT_TRUE(fab.cm(n).connect(fab.now(), make_connect_params(fab, n, B, kService, 0x10, 0)));
  });
  f.run_until(10ms);
  ASSERT_FALSE(f.trace().mads.empty());
  EXPECT_EQ(f.trace().mads[0].sent, 7ms);
  EXPECT_EQ(f.event_names(B), (Names{"req_received"}));
}

}  // namespace
}  // namespace ibcm::sim::test
