// The seed's stories (ibcm sim): exact message sequences and times, derived here from the spec's
// timeouts (not read back from a run), plus determinism and the checks each scenario makes.
#include "ibcm/sim/scenario.h"

#include <gtest/gtest.h>

#include <utility>

#include "ibcm/wire/time.h"
#include "sim/workload.h"

namespace ibcm::sim::test {
namespace {

using wire::cm_time;
using Timed = std::vector<std::pair<Time, std::string>>;

constexpr Time L = 5us;                                 // link latency
constexpr Time kRetry = 2 * cm_time(16) + cm_time(20);  // 4.831838208 s
constexpr Time kTw = cm_time(17);                       // 536.870912 ms
static_assert(kRetry == 4'831'838'208ns && kTw == 536'870'912ns);

ScenarioReport run(std::string_view name, uint64_t seed = 1) {
  const Scenario* s = find_scenario(name);
  EXPECT_NE(s, nullptr) << name;
  return s->run(seed);
}

Timed timed(const ScenarioReport& r) {
  const auto labels = mad_sequence(r.fabric->trace());
  Timed out;
  for (size_t i = 0; i < labels.size(); ++i)
    out.emplace_back(r.fabric->trace().mads[i].sent, labels[i]);
  return out;
}

void expect_passed(const ScenarioReport& r) {
  EXPECT_TRUE(r.passed()) << summary_text(r) << r.fabric->ladder();
  EXPECT_EQ(r.stop, Stop::Idle);
}

TEST(Scenario, StaleReboot) {
  auto r = run("stale-reboot");
  expect_passed(r);
  const Time t = 1s, tw_end = t + 2 * L + kTw;
  EXPECT_EQ(timed(r), (Timed{{0s, "B>A REQ"},
                             {L, "A>B REP"},
                             {2 * L, "B>A RTU"},
                             {t, "B>A REQ"},
                             {t + L, "A>B REJ 10"},
                             {t + L, "A>B DREQ"},
                             {t + 2 * L, "B>A DREP"},
                             {tw_end, "B>A REQ"},
                             {tw_end + L, "A>B REP"},
                             {tw_end + 2 * L, "B>A RTU"}}));
  EXPECT_EQ(r.fabric->event_names(A),
            (std::vector<std::string>{"req_received", "rtu_received", "established",
                                      "stale_connection", "drep_received", "timewait_exit",
                                      "req_received", "rtu_received", "established"}));
  ASSERT_TRUE(r.measure.has_value());
  EXPECT_EQ(r.measure->elapsed, kTw + 4 * L);
  EXPECT_EQ(r.measure->waited, kTw);
  EXPECT_DOUBLE_EQ(r.measure->round_trips(), 2.0);  // REQ/REJ, then REQ/REP(+RTU)
}

TEST(Scenario, DreqUnanswered) {
  auto r = run("dreq-unanswered");
  expect_passed(r);
  Timed want{{0s, "A>B REQ"}, {L, "B>A REP"}, {2 * L, "A>B RTU"}};
  for (int i = 0; i < 16; ++i) want.emplace_back(2s + i * kRetry, "A>B DREQ [NODE_DOWN]");
  EXPECT_EQ(timed(r), want);
  const auto ev = r.fabric->events_of(A);
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(event_name(ev[ev.size() - 2].event), "dreq_timeout");
  EXPECT_EQ(ev[ev.size() - 2].time, 2s + 16 * kRetry);
  EXPECT_EQ(event_name(ev.back().event), "timewait_exit");
  EXPECT_EQ(ev.back().time, 2s + 16 * kRetry + kTw);
  EXPECT_EQ(r.fabric->cm(A).connection_count(), 0u);
  EXPECT_EQ(r.fabric->cm(A).timer_count(), 0u);
}

TEST(Scenario, DrepLost) {
  auto r = run("drep-lost");
  expect_passed(r);
  Timed want{{0s, "A>B REQ"}, {L, "B>A REP"}, {2 * L, "A>B RTU"}};
  for (int i = 0; i < 16; ++i) {
    want.emplace_back(1s + i * kRetry, "A>B DREQ");
    want.emplace_back(1s + i * kRetry + L, "B>A DREP [DROPPED]");
  }
  EXPECT_EQ(timed(r), want);
  // B answers the first DREQ from ESTABLISHED, the rest for a connection it no longer has.
  EXPECT_EQ(r.fabric->event_names(B),
            (std::vector<std::string>{"req_received", "rtu_received", "established",
                                      "dreq_received", "timewait_exit"}));
  EXPECT_EQ(r.fabric->events_of(A).back().time, 1s + 16 * kRetry + kTw);
}

TEST(Scenario, DreqLostThenReq) {
  auto r = run("dreq-lost-then-req");
  expect_passed(r);
  Timed want{{0s, "A>B REQ"}, {L, "B>A REP"}, {2 * L, "A>B RTU"}};
  for (int i = 0; i < 16; ++i) want.emplace_back(1s + i * kRetry, "A>B DREQ [DROPPED]");
  const Time t = 1s + 16 * kRetry + kTw + 1s, tw_end = t + 2 * L + kTw;
  want.insert(want.end(), {{t, "A>B REQ"},
                           {t + L, "B>A REJ 10"},
                           {t + L, "B>A DREQ"},
                           {t + 2 * L, "A>B DREP"},
                           {tw_end, "A>B REQ"},
                           {tw_end + L, "B>A REP"},
                           {tw_end + 2 * L, "A>B RTU"}});
  EXPECT_EQ(timed(r), want);
  EXPECT_DOUBLE_EQ(r.measure->round_trips(), 2.0);
}

TEST(Scenario, BothDisconnect) {
  auto r = run("both-disconnect");
  expect_passed(r);
  EXPECT_EQ(timed(r), (Timed{{0s, "A>B REQ"},
                             {L, "B>A REP"},
                             {2 * L, "A>B RTU"},
                             {1s, "A>B DREQ"},
                             {1s, "B>A DREQ"},
                             {1s + L, "B>A DREP"},
                             {1s + L, "A>B DREP"}}));
  for (NodeId n : {A, B}) {
    const auto names = r.fabric->event_names(n);
    ASSERT_GE(names.size(), 2u);
    EXPECT_EQ(names[names.size() - 2], "dreq_received");
    EXPECT_EQ(names.back(), "timewait_exit");
    EXPECT_EQ(r.fabric->events_of(n).back().time, 1s + L + kTw);
  }
}

TEST(Scenario, LostReqRepRtu) {
  EXPECT_EQ(timed(run("lost-req")), (Timed{{0s, "A>B REQ [DROPPED]"},
                                           {kRetry, "A>B REQ"},
                                           {kRetry + L, "B>A REP"},
                                           {kRetry + 2 * L, "A>B RTU"}}));
  // A's REQ retry reaches B in REP_SENT (a duplicate, dropped); B's REP retry, one interval
  // after its first REP, completes the handshake.
  EXPECT_EQ(timed(run("lost-rep")), (Timed{{0s, "A>B REQ"},
                                           {L, "B>A REP [DROPPED]"},
                                           {kRetry, "A>B REQ"},
                                           {L + kRetry, "B>A REP"},
                                           {2 * L + kRetry, "A>B RTU"}}));
  EXPECT_EQ(timed(run("lost-rtu")), (Timed{{0s, "A>B REQ"},
                                           {L, "B>A REP"},
                                           {2 * L, "A>B RTU [DROPPED]"},
                                           {L + kRetry, "B>A REP"},
                                           {2 * L + kRetry, "A>B RTU"}}));
  for (auto name : {"lost-req", "lost-rep", "lost-rtu"}) expect_passed(run(name));
}

TEST(Scenario, SlowPassiveSideUsesMra) {
  auto r = run("slow-passive-mra");
  expect_passed(r);
  EXPECT_EQ(
      timed(r),
      (Timed{{0s, "A>B REQ"}, {L, "B>A MRA"}, {L + 10s, "B>A REP"}, {2 * L + 10s, "A>B RTU"}}));
  EXPECT_EQ(r.fabric->event_names(A),
            (std::vector<std::string>{"mra_received", "rep_received", "established"}));
}

TEST(Scenario, NoListenerAndPeerToPeer) {
  auto nl = run("no-listener");
  expect_passed(nl);
  EXPECT_EQ(timed(nl), (Timed{{0s, "A>B REQ"}, {L, "B>A REJ 8"}}));
  auto p2p = run("peer-to-peer");
  expect_passed(p2p);
  EXPECT_EQ(timed(p2p),
            (Timed{{0s, "A>B REQ"}, {0s, "B>A REQ"}, {L, "A>B REP"}, {2 * L, "B>A RTU"}}));
}

// The seed only changes comm IDs and PSNs here (no random faults): same seed, same bytes.
TEST(Scenario, SameSeedSameRunOtherSeedOtherIds) {
  for (const auto& s : scenarios()) {
    auto a = s.run(7), b = s.run(7), c = s.run(8);
    EXPECT_EQ(a.fabric->trace().mads, b.fabric->trace().mads) << s.name;
    EXPECT_EQ(a.fabric->ladder(), b.fabric->ladder()) << s.name;
    EXPECT_NE(a.fabric->trace().mads, c.fabric->trace().mads) << s.name;
    EXPECT_EQ(mad_sequence(a.fabric->trace()), mad_sequence(c.fabric->trace())) << s.name;
  }
}

TEST(Scenario, EveryScenarioPassesForManySeeds) {
  for (const auto& s : scenarios())
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      auto r = s.run(seed);
      EXPECT_TRUE(r.passed()) << s.name << " seed " << seed << "\n" << summary_text(r);
    }
}

TEST(Scenario, RegistryAndSummaries) {
  ASSERT_FALSE(scenarios().empty());
  EXPECT_EQ(scenarios().front().name, "stale-reboot");  // the default of `ibcm sim`
  EXPECT_EQ(find_scenario("no-such-thing"), nullptr);
  auto r = run("no-listener");
  EXPECT_EQ(mad_counts(r.fabric->trace()), "REQ 1, REJ 1");
  const std::string json = summary_json(r);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_NE(json.find("\"scenario\":\"no-listener\""), std::string::npos);
  EXPECT_NE(json.find("\"sequence\":[\"A>B REQ\",\"B>A REJ 8\"]"), std::string::npos);
  EXPECT_NE(json.find("\"passed\":true"), std::string::npos);
  EXPECT_NE(summary_text(r).find("outcome:  PASS"), std::string::npos);
}

// A failed check makes the report fail: the outcome is not a constant.
TEST(Scenario, AFailedCheckFailsTheReport) {
  auto r = run("no-listener");
  ASSERT_TRUE(r.passed());
  r.check(false, "something the run did not do");
  EXPECT_FALSE(r.passed());
  EXPECT_NE(summary_text(r).find("FAIL  something the run did not do"), std::string::npos);
  ScenarioReport empty;
  EXPECT_FALSE(empty.passed());
}

}  // namespace
}  // namespace ibcm::sim::test
