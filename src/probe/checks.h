// The probe's checks: each a conversation with the remote about one rule, and its verdict.
#pragma once

#include <span>
#include <string>

#include "probe/conversation.h"

namespace ibcm::probe {

struct Outcome {
  Verdict verdict = Verdict::NotApplicable;
  std::string seen;
  uint32_t left_open = 0;  // connections the check opened and could not end
};

struct CheckDef {
  CheckInfo info;
  std::string_view expected;
  Outcome (*run)(Conversation&);
  // Set (and `run` null) for a rule that no remote can be held to from its messages alone: the
  // check is n/a, for this reason, and nothing is sent.
  std::string_view not_applicable = {};
};

// Per file: service-level checks (checks_service.cpp), a REQ with a field the remote cannot
// accept (checks_fields.cpp), connection establishment (checks_connect.cpp), stale connections
// (checks_stale.cpp), disconnects (checks_disconnect.cpp), identifiers reused and LAP
// (checks_ids.cpp), the probe as the passive side (checks_passive.cpp).
Outcome check_class_port_info(Conversation& c);
Outcome check_unknown_service(Conversation& c);
Outcome check_sidr_unknown_service(Conversation& c);
Outcome check_invalid_transport(Conversation& c);
Outcome check_invalid_mtu(Conversation& c);
Outcome check_invalid_gid(Conversation& c);
Outcome check_invalid_qpn(Conversation& c);
Outcome check_invalid_packet_rate(Conversation& c);
Outcome check_invalid_alt_gid(Conversation& c);
Outcome check_invalid_alt_packet_rate(Conversation& c);
Outcome check_invalid_class_version(Conversation& c);
Outcome check_duplicate_req(Conversation& c);
Outcome check_lost_rtu(Conversation& c);
Outcome check_mra_rep(Conversation& c);
Outcome check_stale_req(Conversation& c);
Outcome check_stale_req_half_open(Conversation& c);
Outcome check_rej_established(Conversation& c);
Outcome check_dreq_unknown(Conversation& c);
Outcome check_dreq_unanswered(Conversation& c);
Outcome check_reused_comm_id(Conversation& c);
Outcome check_reused_tid(Conversation& c);
Outcome check_lap(Conversation& c);
Outcome check_stale_rep(Conversation& c);
Outcome check_mra_req(Conversation& c);

// Every check, in the order the probe runs them (probe.cpp).
std::span<const CheckDef> check_defs();

// "0.201" and "0.201 s": a time in a `seen` text.
std::string seconds(Time t);
inline std::string secs(Time t) {
  return seconds(t) + " s";
}
// A verdict with what was seen.
inline Outcome pass(std::string seen) {
  return {Verdict::Pass, std::move(seen), 0};
}
inline Outcome deviation(std::string seen) {
  return {Verdict::Deviation, std::move(seen), 0};
}
inline Outcome not_applicable(std::string seen) {
  return {Verdict::NotApplicable, std::move(seen), 0};
}

}  // namespace ibcm::probe
