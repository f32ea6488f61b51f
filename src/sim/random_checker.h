// The invariants of a random simulation run, checked while it runs (after every step) and when
// it has drained. Each violation is one line naming the node, connection and rule.
#pragma once

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "ibcm/sim/fabric.h"

namespace ibcm::sim {

class RandomChecker {
 public:
  explicit RandomChecker(size_t nodes) : boots_(nodes, 1) {}

  // Reads what the last steps added to the trace: consumer events (each delivered exactly once,
  // in a legal order, none after the connection ended) and REJ 10s (the old connection must be
  // on its way out at once: the stale-connection rule).
  void after_step(Fabric& f);
  // At idle: no connection in a transient state, no QPN bound to two connections, no timer left
  // behind. Returns the ESTABLISHED connections whose peer does not hold the matching end.
  std::vector<std::pair<NodeId, ConnId>> at_idle(Fabric& f, const std::string& phase);
  // After the final teardown: every table and timer empty.
  void at_end(Fabric& f);

  std::vector<std::string>& violations() { return violations_; }

 private:
  struct Log {
    bool req = false, rep = false, established = false, dreq = false, drep_or_timeout = false,
         ended = false;
  };
  using Key = std::tuple<NodeId, uint32_t, ConnId>;  // node, boot, connection
  void violation(std::string s);
  void on_event(Fabric& f, const EventRecord& e);
  void check_stale_rule(Fabric& f, const MadRecord& rej);

  std::vector<uint32_t> boots_;
  std::map<Key, Log> logs_;
  size_t events_seen_ = 0, notes_seen_ = 0, mads_seen_ = 0;
  std::vector<std::string> violations_;
};

}  // namespace ibcm::sim
