// The life of one connection as its consumer sees it: which event or consumer call may come next,
// and what is still owed. The random-run checker (random_checker.h) keeps one per connection and
// feeds it the connection's events and the consumer calls that succeeded on it, in the order the
// engine saw them. It encodes the promises of docs/engine.md, not the engine's internal states:
// every connect() ends in exactly one outcome (established and later timewait_exit, or
// rej_received, req_timeout, aborted ...), a disconnect is answered by exactly one of
// drep_received / dreq_timeout (or crossed by the peer's DREQ) and then timewait_exit, and
// nothing follows the end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ibcm/engine/events.h"

namespace ibcm::sim {

// The consumer calls that move a connection on (connect and req_received create it).
enum class Call : uint8_t { Accept, Reject, Disconnect, SendDrep, LoadAlternatePath, Destroy };
std::string_view to_string(Call c);

class ConnLife {
 public:
  enum class Stage : uint8_t {
    Connecting,     // active: connect() returned it; a REP, REJ, req_timeout or aborted is owed
    RepReceived,    // active: the consumer owes RTU or a reject
    Accepting,      // passive: req_received; accept / reject, then RTU (or REJ, rep_timeout) owed
    Established,    // nothing owed until someone disconnects
    Disconnecting,  // our DREQ is out: drep_received or dreq_timeout owed (or the peer's DREQ)
    DreqReceived,   // the consumer owes a DREP
    TimeWait,       // timewait_exit owed
    Ended,          // nothing more may happen
    Destroyed,      // the consumer destroyed it: no event may follow
  };

  static ConnLife active() { return ConnLife(Stage::Connecting); }
  static ConnLife passive() { return ConnLife(Stage::Accepting); }

  // The connection's next event or successful consumer call. Returns what is illegal about it
  // (empty if it is legal); an illegal step leaves the stage unchanged.
  std::string event(const Event& e);
  std::string call(Call c);

  Stage stage() const { return stage_; }
  // Nothing is owed: the connection ended (or was destroyed), or is ESTABLISHED with no LAP of
  // ours outstanding.
  bool settled() const;

 private:
  explicit ConnLife(Stage s) : stage_(s) {}
  Stage stage_;
  bool accepted_ = false;  // passive: accept() succeeded (REP sent)
  bool lap_ = false;       // ESTABLISHED: our LAP is outstanding
  bool stale_ = false;     // stale_connection delivered
};

std::string_view to_string(ConnLife::Stage s);

}  // namespace ibcm::sim
