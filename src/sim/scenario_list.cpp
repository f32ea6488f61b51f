// The scenario registry: names, one-line stories, and the scripts that run them.
#include <array>

#include "sim/story.h"

namespace ibcm::sim {

namespace {
using namespace story;
constexpr std::array kScenarios{
    Scenario{"stale-reboot", "B reboots while connected and reconnects to A from the same QPN",
             stale_reboot},
    Scenario{"dreq-unanswered", "A disconnects from a B that has gone away", dreq_unanswered},
    Scenario{"drep-lost", "A disconnects and every DREP from B is lost", drep_lost},
    Scenario{"dreq-lost-then-req",
             "A's DREQs are lost; A later connects again from the same QP while B still holds the "
             "old connection",
             dreq_lost_then_req},
    Scenario{"both-disconnect", "A and B disconnect at the same moment", both_disconnect},
    Scenario{"lost-req", "the first REQ is lost", lost_req},
    Scenario{"lost-rep", "the first REP is lost", lost_rep},
    Scenario{"lost-rtu", "the first RTU is lost", lost_rtu},
    Scenario{"slow-passive-mra", "B needs 10 s to accept and asks for time with MRA",
             slow_passive_mra},
    Scenario{"no-listener", "a REQ for a service nobody listens on", no_listener},
    Scenario{"peer-to-peer", "A and B send peer-to-peer REQs to each other at the same moment",
             peer_to_peer},
};
}  // namespace

std::span<const Scenario> scenarios() {
  return kScenarios;
}

const Scenario* find_scenario(std::string_view name) {
  for (const auto& s : kScenarios)
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace ibcm::sim
