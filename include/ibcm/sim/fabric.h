/// @file
/// A deterministic simulated fabric: N nodes, each one CM (one CA port), joined by links with
/// latency, jitter, loss, duplication and reordering, scripted faults, crashes and partitions, on
/// a virtual clock. A run is a pure function of FabricConfig::seed and the script: one PRNG, no
/// wall clock, every queue ordered by (time, sequence number).
///
/// Usage: build a Fabric, give each node a consumer (a handler or an AutoConsumer), make consumer
/// calls through cm(n) at now(), then run_until_idle(). Everything that happened is in trace().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/engine/cm.h"
#include "ibcm/sim/link.h"
#include "ibcm/sim/random.h"
#include "ibcm/sim/trace.h"

IBCM_API_BEGIN

namespace ibcm::sim {

struct FabricConfig {
  size_t nodes = 2;
  uint64_t seed = 1;
  Config node;      ///< every node's Config; ca_guid, local and seed are set per node
  LinkParams link;  ///< every link that has no set_link() of its own
};

enum class Stop : uint8_t {
  Idle,       ///< nothing in flight, no timer armed, nothing scheduled
  TimeLimit,  ///< the next thing to do lies beyond the time limit
  StepLimit,  ///< the step budget ran out first (a livelock, or a limit set too low)
};
std::string_view to_string(Stop s);

struct FabricStats {
  uint64_t sent = 0;  ///< MADs handed to the fabric (by a Cm or inject())
  uint64_t delivered = 0;
  uint64_t lost = 0;
  uint64_t dropped = 0;     ///< by a FaultRule
  uint64_t duplicated = 0;  ///< extra copies made (randomly or by a rule)
  uint64_t reordered = 0;   ///< copies held back by LinkParams::reorder
  uint64_t delayed = 0;     ///< copies held back by a FaultRule
  uint64_t partitioned = 0;
  uint64_t node_down = 0;
  uint64_t unroutable = 0;
  uint64_t steps = 0;
};

using PartitionId = uint32_t;

class Fabric {
 public:
  /// A node's consumer: called once per event its Cm produces, in order.
  using Handler = std::function<void(Fabric&, NodeId, const Event&)>;
  using NodeAction = std::function<void(Fabric&, NodeId)>;
  using Action = std::function<void(Fabric&)>;
  static constexpr uint64_t kDefaultMaxSteps = 1'000'000;

  explicit Fabric(const FabricConfig& config = {});
  ~Fabric();
  Fabric(const Fabric&) = delete;
  Fabric& operator=(const Fabric&) = delete;

  // --- nodes ---
  size_t size() const { return nodes_.size(); }
  /// "A".."Z" when there are at most 26 nodes, else "N0", "N1", ...
  const std::string& name(NodeId n) const;
  /// GID \::ffff:10.a.b.c with a.b.c = n + 1 (so pcaps read as RoCEv2 over IPv4), LID 0xFFFF.
  const Address& address(NodeId n) const;
  uint64_t ca_guid(NodeId n) const;
  std::optional<NodeId> node_of(const wire::Gid& gid) const;
  /// The node's CM; throws std::logic_error if the node is down. Consumer calls made through it
  /// are drained (transmits sent, events handed to the consumer) before the next step.
  Cm& cm(NodeId n);
  Cm* find_cm(NodeId n);  ///< nullptr while the node is down
  bool is_up(NodeId n) const;
  uint32_t boots(NodeId n) const;  ///< 1 after construction, +1 per reboot
  void set_consumer(NodeId n, Handler h);
  /// Called right after every reboot (to listen again, as a restarted application would).
  void set_boot_handler(NodeId n, NodeAction h);
  /// Discards the node's Cm and all its state; MADs in flight to it are lost, and actions
  /// scheduled for it are dropped.
  void crash(NodeId n);
  /// A fresh Cm with the same CA GUID and address and a new seed; crashes the node first if it
  /// is up.
  void reboot(NodeId n);

  // --- links ---
  void set_default_link(const LinkParams& p);  ///< for every link without a set_link()
  void set_link(NodeId from, NodeId to, const LinkParams& p);
  const LinkParams& link(NodeId from, NodeId to) const;
  RuleId add_rule(FaultRule r);
  uint32_t rule_hits(RuleId id) const;  ///< MADs the rule acted on so far
  bool rule_spent(RuleId id) const;
  /// No MAD passes between a node of `a` and a node of `b` (either way) until healed; MADs in
  /// flight between them when they arrive are lost too.
  PartitionId cut(const std::vector<NodeId>& a, const std::vector<NodeId>& b);
  PartitionId isolate(const std::vector<NodeId>& side);  ///< side against every other node
  void heal(PartitionId p);
  void heal_all();
  bool reachable(NodeId from, NodeId to) const;

  // --- time and the run loop ---
  Time now() const { return now_; }
  uint64_t random() { return rng_.next(); }  // the fabric's PRNG, for consumers
  /// Runs `a` at time `at` (a scripted crash, heal, ...).
  void schedule(Time at, Action a);
  /// Runs a consumer action for node n at `at` (a delayed accept), then drains n; dropped if the
  /// node crashes before then.
  void schedule(Time at, NodeId n, NodeAction a);
  /// Puts a MAD on the wire as if node `from` had sent it (through the link model and rules).
  void inject(NodeId from, const Address& to, const wire::MadBytes& mad);
  /// Adds a line to the ladder.
  void annotate(NodeId n, std::string text);

  /// Does the earliest thing (a timer, a delivery or a scheduled action), then drains every node
  /// it touched. Returns false when there is nothing to do. Not reentrant: throws if called from
  /// a consumer or a scheduled action.
  bool step();
  /// Runs everything due at or before `until`, then sets the clock to `until`.
  Stop run_until(Time until, uint64_t max_steps = kDefaultMaxSteps);
  Stop run_for(Time d, uint64_t max_steps = kDefaultMaxSteps) {
    return run_until(now_ + d, max_steps);
  }
  /// Runs until idle, or until the next thing lies beyond `limit` (the clock then stays at the
  /// last thing done).
  Stop run_until_idle(Time limit, uint64_t max_steps = kDefaultMaxSteps);
  /// When the next thing will happen (after draining output that consumer calls made outside a
  /// step, which may call consumers).
  std::optional<Time> next_time();
  bool idle() { return !next_time().has_value(); }

  // --- records ---
  const Trace& trace() const { return trace_; }
  std::vector<EventRecord> events_of(NodeId n) const;
  std::vector<std::string> event_names(NodeId n) const;
  /// The MAD records with this attribute (e.g. every REP copy), in send order.
  std::vector<MadRecord> mads_of(wire::AttrId attr) const;
  const FabricStats& stats() const { return stats_; }
  std::string ladder() const { return sim::ladder(trace_); }
  std::string write_pcap(const std::string& path) const { return sim::write_pcap(trace_, path); }

 private:
  struct Node {
    std::string name;
    Address address;
    uint64_t ca_guid = 0;
    std::unique_ptr<Cm> cm;  ///< null while down
    uint32_t epoch = 0;      ///< +1 per crash: what was addressed to the old Cm is void
    uint32_t boots = 0;
    Handler handler;
    NodeAction on_boot;
    bool dirty = false;  ///< has output to drain
  };
  struct Pending {
    enum class Kind : uint8_t { Deliver, Act, NodeAct } kind = Kind::Act;
    size_t record = 0;       ///< Deliver: index into trace_.mads
    NodeId node = kAnyNode;  ///< Deliver: the destination; NodeAct: the node acted on
    uint32_t epoch = 0;      ///< that node's epoch when this was queued
    Action action;
    NodeAction node_action;
  };
  struct Rule {
    FaultRule rule;
    uint32_t seen = 0;
    uint32_t hits = 0;
  };
  struct Cut {
    std::vector<bool> a, b;
  };
  using Key = std::pair<Time, uint64_t>;  ///< (time, sequence): a total, deterministic order

  Config config_of(NodeId n) const;
  void boot(NodeId n);
  Node& node(NodeId n);
  const Node& node(NodeId n) const;
  void note(NodeId n, std::string text);
  void push(Time at, Pending p);
  void drain();
  void drain_node(NodeId n);
  void send(NodeId from, const Address& to, const wire::MadBytes& mad, bool injected);
  void put_on_wire(size_t record, Time extra_delay);
  void arrive(size_t record, uint32_t dest_epoch);
  Rule* match_rule(const MadRecord& r);

  FabricConfig config_;
  Rng rng_;
  Time now_{0};
  std::vector<Node> nodes_;
  std::map<wire::Gid, NodeId> by_gid_;
  LinkParams default_link_;
  std::map<std::pair<NodeId, NodeId>, LinkParams> links_;
  std::vector<Rule> rules_;
  std::map<PartitionId, Cut> cuts_;
  PartitionId next_cut_ = 1;
  std::map<Key, Pending> queue_;
  uint64_t queue_seq_ = 0;
  uint64_t journal_seq_ = 0;
  bool in_step_ = false;
  bool draining_ = false;
  Trace trace_;
  FabricStats stats_;
};

}  // namespace ibcm::sim

IBCM_API_END
