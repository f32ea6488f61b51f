// Stale-connection recovery on the simulated fabric: the `stale-reboot` scenario (B reboots while
// connected and reconnects from the same QPN), measured from B's new REQ to the new connection.
#include "ibcm/sim/scenario.h"
#include "perf/perf.h"

namespace ibcm::perf {

StaleResult measure_stale(uint64_t seed) {
  StaleResult r;
  const sim::Scenario* s = sim::find_scenario("stale-reboot");
  if (!s) return r;
  sim::ScenarioReport report = s->run(seed);
  r.passed = report.passed();
  if (!report.measure) {
    r.passed = false;
    return r;
  }
  const sim::ScenarioMeasure& m = *report.measure;
  auto ms = [](Time t) { return std::chrono::duration<double, std::milli>(t).count(); };
  r.round_trips = m.round_trips();
  r.elapsed_ms = ms(m.elapsed);
  r.waited_ms = ms(m.waited);
  r.round_trip_ms = ms(m.round_trip);
  r.waited_on = m.waited_on;
  return r;
}

}  // namespace ibcm::perf
