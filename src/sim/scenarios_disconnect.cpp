// Lost disconnects: DREQ without DREP, DREP lost, and both sides disconnecting at once.
#include "sim/story.h"

namespace ibcm::sim::story {

namespace {

// DREQ at t0 and 15 retries at the retry interval, the timeout one interval after the last.
void check_dreq_timeout(Story& s, Time t0) {
  const auto dreqs = s.sent(wire::AttrId::Dreq, A);
  bool spaced = dreqs.size() == 16;
  for (size_t i = 0; spaced && i < dreqs.size(); ++i)
    spaced = dreqs[i] == t0 + static_cast<int64_t>(i) * kRetryInterval;
  s.check(spaced, "A sends DREQ and 15 retries, 4.831838208 s apart");
  const Time t_timeout = t0 + 16 * kRetryInterval;
  s.check(s.when(A, "dreq_timeout") == t_timeout,
          "A's consumer gets dreq_timeout at 16 x 4.831838208 s = 77.309411328 s");
  s.check(s.when(A, "timewait_exit") == t_timeout + kTimewait,
          "A leaves TIMEWAIT 536.870912 ms later (77.846282240 s after the disconnect)");
  Cm* a = s.f().find_cm(A);
  s.check(a && a->connection_count() == 0 && a->timer_count() == 0,
          "A holds no connection and no timer afterwards");
}

// A disconnects `c` now and the run goes on until idle. Returns when A disconnected.
Time a_disconnects(Story& s, ConnId c) {
  const Time t0 = s.f().now();
  s.check(s.f().cm(A).disconnect(t0, c).has_value(), "A disconnects");
  s.run();
  return t0;
}

// A teardown that ends by the DREQ's timeout: from A's disconnect at t0 to its TIMEWAIT exit.
void measure_dreq_timeout(Story& s, Time t0) {
  s.measure("teardown", "A's disconnect", t0, "A's timewait_exit", s.when(A, "timewait_exit"),
            16 * kRetryInterval + kTimewait, "16 DREQ retry intervals + TIMEWAIT");
}

}  // namespace

// Scenario 2a. B goes away (crashes, never comes back) while connected; A disconnects.
ScenarioReport dreq_unanswered(uint64_t seed) {
  Story s("dreq-unanswered", "A disconnects from a B that has gone away", seed);
  AutoConsumer server, client;
  auto c = connected_pair(s, server, B, client, A);
  if (!c) return s.finish();
  s.f().crash(B);
  s.f().run_until(2s);
  const Time t0 = a_disconnects(s, *c);
  check_dreq_timeout(s, t0);
  measure_dreq_timeout(s, t0);
  return s.finish();
}

// Scenario 2b. B is there and answers, but every DREP it sends is lost.
ScenarioReport drep_lost(uint64_t seed) {
  Story s("drep-lost", "A disconnects and every DREP from B is lost", seed);
  AutoConsumer server, client;
  auto c = connected_pair(s, server, B, client, A);
  if (!c) return s.finish();
  s.f().add_rule(drop_next(wire::AttrId::Drep, B, A, 1000));
  const Time t0 = a_disconnects(s, *c);
  check_dreq_timeout(s, t0);
  s.check(s.sent(wire::AttrId::Drep, B).size() == 16,
          "B answers every DREQ: the first one, and the retries for a connection it has left");
  s.check(s.when(B, "timewait_exit") == t0 + kLatency + kTimewait,
          "B leaves TIMEWAIT 536.870912 ms after the first DREQ");
  measure_dreq_timeout(s, t0);
  return s.finish();
}

// Scenario 4a. Both consumers call disconnect at the same instant: the DREQs cross, each side
// answers the other's DREQ with DREP from DREQ_SENT, and both wait out TIMEWAIT.
ScenarioReport both_disconnect(uint64_t seed) {
  Story s("both-disconnect", "A and B disconnect at the same moment", seed);
  AutoConsumer server, client;
  auto c = connected_pair(s, server, B, client, A);
  if (!c) return s.finish();
  Fabric& f = s.f();
  const ConnId b_conn = last_established(f, B).value_or(0);
  const Time t0 = f.now();
  s.check(f.cm(A).disconnect(t0, *c).has_value() && f.cm(B).disconnect(t0, b_conn).has_value(),
          "A and B disconnect at the same time");
  s.run();
  s.check(s.sent(wire::AttrId::Dreq, A).size() == 1 && s.sent(wire::AttrId::Dreq, B).size() == 1,
          "one DREQ each way, no retries");
  s.check(s.sent(wire::AttrId::Drep, A).size() == 1 && s.sent(wire::AttrId::Drep, B).size() == 1,
          "each side answers the other's DREQ with DREP");
  const Time t_exit = t0 + kLatency + kTimewait;
  s.check(s.when(A, "timewait_exit") == t_exit && s.when(B, "timewait_exit") == t_exit,
          "both leave TIMEWAIT 536.870912 ms after the DREQs crossed");
  s.check(s.count_events(A, "dreq_timeout") == 0 && s.count_events(B, "dreq_timeout") == 0,
          "no DREQ timeout");
  s.check(f.cm(A).connection_count() == 0 && f.cm(B).connection_count() == 0,
          "neither side holds a connection afterwards");
  s.measure("teardown", "the disconnects", t0, "timewait_exit on both", t_exit, kTimewait,
            "TIMEWAIT");
  return s.finish();
}

}  // namespace ibcm::sim::story
