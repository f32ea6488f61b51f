/// @file
/// A conformance probe for a remote CM: short conversations that ibcm drives against a CM that
/// listens on an rdma_cm port, each checking one rule of IBTA Vol 1 chapter 12 (stale
/// connections, lost messages, disconnects that get no answer, ...) and timing it. It speaks raw
/// MADs through any Transport (MAD-over-UDP, RoCEv2, umad), so the remote may be ibcm, the Linux
/// kernel CM, or a CM in a NIC. `ibcm probe` is its command line.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/engine/types.h"
#include "ibcm/transport/ip_address.h"
#include "ibcm/transport/transport.h"

IBCM_API_BEGIN

namespace ibcm::probe {

enum class Verdict : uint8_t {
  Pass,           ///< the remote did what the spec asks
  Deviation,      ///< it did something else (`seen` says what)
  NotApplicable,  ///< the check could not be put to this remote (it never connected, say)
};
std::string_view to_string(Verdict v);  ///< "pass", "deviation", "n/a"

/// One check's outcome.
struct CheckResult {
  std::string check;     ///< its name, e.g. "stale-req"
  std::string section;   ///< the IBTA Vol 1 section the rule is in
  std::string expected;  ///< what the spec expects, in a sentence
  std::string seen;      ///< what the remote did
  Verdict result = Verdict::NotApplicable;
  double seconds = 0;  ///< the conversation's length
  /// Connections the probe opened and could not end (the remote still holds them): 0 normally.
  uint32_t left_open = 0;
};

struct CheckInfo {
  std::string_view name;
  std::string_view section;
  std::string_view summary;
};
/// Every check, in the order run() runs them.
std::span<const CheckInfo> checks();

struct ProbeOptions {
  Address remote;  ///< the remote CM's address (where its GSI MADs go)
  /// The rdma_cm addresses the REQs name in their private-data header: ours and the remote's IP
  /// (the remote's port is `port`).
  IpEndpoint local_ip;
  IpEndpoint remote_ip;
  uint16_t port = 7174;  ///< the rdma_cm port (TCP port space) the remote listens on
  uint64_t ca_guid = 0;  ///< our CA GUID, as REQs carry it
  uint64_t seed = 0;     ///< communication IDs, QPNs and TIDs come from it
  /// Only these checks (names from checks()); empty: all.
  std::vector<std::string> only;
  /// How long to wait for an answer the spec says comes at once (the remote's CM response time
  /// is added where it advertises one).
  Time answer_wait = std::chrono::milliseconds(1000);
  /// How long a check waits for the remote to disconnect a connection on its own (a server that
  /// ends each connection, as `ibcm listen --hold` does); without it that check is n/a.
  Time remote_disconnect_wait = std::chrono::milliseconds(2000);
  /// How long a check where the probe is the passive side (`stale-rep`, `mra-req`) waits for the
  /// remote to connect to it: its active side, a client started against our address and `port`,
  /// connecting again and again. 0: the remote is not asked to connect; those checks are n/a.
  Time remote_connect_wait{0};
  /// Called after each check (progress), before run() returns.
  std::function<void(const CheckResult&)> on_result;
};

/// Runs the checks against the remote through `t` (which nothing else may read meanwhile).
/// Fails, with one line why, only when the probe cannot run at all: an unknown check name in
/// `only`, or not one MAD back from the remote for all those the run sent.
Expected<std::vector<CheckResult>, std::string> run(Transport& t, const ProbeOptions& options);

}  // namespace ibcm::probe

IBCM_API_END
