// The invariants of a random simulation run, checked while it runs (after every step and at
// every consumer call) and when it has drained. Each violation is one line naming the node,
// connection and rule.
#pragma once

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "ibcm/sim/fabric.h"
#include "sim/conn_life.h"

namespace ibcm::sim {

class RandomChecker {
 public:
  explicit RandomChecker(size_t nodes) : boots_(nodes, 1) {}

  // The consumer calls that succeeded, reported by the run as it makes them. Each first reads
  // the trace up to the call, so that events and calls meet each connection's ConnLife in the
  // order the engine saw them. connect() and accept() bind a local QPN: one still bound to a
  // live connection of that node is a violation (the QPN rule, checked at the call that breaks
  // it rather than by a scan).
  void connected(Fabric& f, NodeId n, ConnId c, uint32_t qpn, NodeId peer);
  void accepted(Fabric& f, NodeId n, ConnId c, uint32_t qpn);
  void called(Fabric& f, NodeId n, ConnId c, Call call);
  void sidr_requested(Fabric& f, NodeId n, SidrId id);

  // Reads what the last step added to the trace: consumer events (each connection's in a legal
  // order, see ConnLife; each SIDR request answered at most once) and REJ 10s (the old
  // connection must be on its way out at once: the stale-connection rule).
  void after_step(Fabric& f);

  // At idle: every connection settled (nothing owed: the engine and its consumer agree that it
  // is ESTABLISHED, or that it ended), none in a transient state, no QPN bound twice, no timer
  // left, every SIDR request answered or timed out. Returns the ESTABLISHED connections whose
  // peer does not hold the matching end.
  std::vector<std::pair<NodeId, ConnId>> at_idle(Fabric& f, const std::string& phase);

  // A connection ESTABLISHED on one side only once the network has healed, with no bug on
  // either side: nothing has yet told the survivor (only data traffic would).
  struct OneSided {
    enum class Why : uint8_t {
      PeerRebooted,  // the peer crashed since the handshake (the stale-connection case)
      LastWordLost,  // the peer gave it up (REJ, DREQ) and every copy of that message was lost
    };
    NodeId node;
    ConnId conn;
    Why why;
  };
  // Classifies at_idle's one-sided connections. Any other one-sided connection is a violation:
  // the peer, up all along, gave it up and told us (we ignored it), or gave it up without a
  // word, or holds an end that does not match. Returns the legitimate ones.
  std::vector<OneSided> explain_one_sided(Fabric& f,
                                          const std::vector<std::pair<NodeId, ConnId>>& one_sided);

  // After the final teardown: every table and timer empty, and every connection ended.
  void at_end(Fabric& f);

  std::vector<std::string>& violations() { return violations_; }

 private:
  struct Conn {
    Conn(ConnLife l, NodeId p, uint32_t p_boot, size_t mads)
        : life(l), peer(p), peer_boot(p_boot), first_mad(mads) {}
    ConnLife life;
    NodeId peer = kAnyNode;
    uint32_t peer_boot = 0;  // the peer's boot when this connection began
    uint32_t qpn = 0;        // the local QPN bound by connect() / accept(); 0: none yet
    size_t first_mad = 0;    // the trace's MAD count when it began
    bool was_established = false;
    std::string_view left_established;  // the event or call that ended ESTABLISHED, for reports
  };
  using Key = std::tuple<NodeId, uint32_t, ConnId>;      // node, boot, connection
  using QpKey = std::tuple<NodeId, uint32_t, uint32_t>;  // node, boot, local QPN
  using SidrKey = std::tuple<NodeId, uint32_t, SidrId>;

  void violation(std::string s);
  std::string where(NodeId n, ConnId c) const;
  void catch_up(Fabric& f);
  void on_event(Fabric& f, const EventRecord& e);
  void check_lives(Fabric& f, const std::string& phase);
  void step(NodeId n, ConnId c, Conn& conn, std::string_view what, const std::string& error);
  void bind_qpn(Fabric& f, NodeId n, ConnId c, Conn& conn, uint32_t qpn);
  void check_stale_rule(Fabric& f, const MadRecord& rej);
  Conn* find(NodeId n, ConnId c);

  std::vector<uint32_t> boots_;
  std::map<Key, Conn> conns_;
  std::map<QpKey, ConnId> qpns_;
  std::map<SidrKey, bool> sidrs_;  // answered (sidr_rep_received or sidr_timeout)?
  size_t events_seen_ = 0, notes_seen_ = 0, mads_seen_ = 0;
  std::vector<std::string> violations_;
};

}  // namespace ibcm::sim
