// The run loop: one queue of deliveries and scheduled actions ordered by (time, sequence), plus
// each node's own next timer; after every step the touched nodes are drained.
#include <stdexcept>

#include "ibcm/sim/fabric.h"

namespace ibcm::sim {

namespace {

// Draining is bounded so that a consumer that answers every event with another call that makes
// an event cannot hang a test; hitting the bound is reported as an exception, not swallowed.
constexpr uint64_t kDrainLimit = 1'000'000;

// Sets a flag for a scope; clears it on the way out, exceptions included.
class FlagGuard {
 public:
  explicit FlagGuard(bool& flag) : flag_(flag) { flag_ = true; }
  ~FlagGuard() { flag_ = false; }
  FlagGuard(const FlagGuard&) = delete;
  FlagGuard& operator=(const FlagGuard&) = delete;

 private:
  bool& flag_;
};

}  // namespace

void Fabric::push(Time at, Pending p) {
  queue_.emplace(Key{at, queue_seq_++}, std::move(p));
}

void Fabric::schedule(Time at, Action a) {
  Pending p;
  p.kind = Pending::Kind::Act;
  p.action = std::move(a);
  push(at, std::move(p));
}

void Fabric::schedule(Time at, NodeId n, NodeAction a) {
  Pending p;
  p.kind = Pending::Kind::NodeAct;
  p.node = n;
  p.epoch = node(n).epoch;
  p.node_action = std::move(a);
  push(at, std::move(p));
}

std::optional<Time> Fabric::next_time() {
  drain();
  std::optional<Time> t;
  if (!queue_.empty()) t = queue_.begin()->first.first;
  for (const Node& x : nodes_) {
    if (!x.cm) continue;
    auto nt = x.cm->next_timeout();
    if (nt && (!t || *nt < *t)) t = nt;
  }
  return t;
}

bool Fabric::step() {
  if (in_step_ || draining_) throw std::logic_error("sim::Fabric::step is not reentrant");
  FlagGuard guard(in_step_);

  drain();

  // The earliest timer; on equal times timers go before queued items and lower node IDs first,
  // an arbitrary but fixed order.
  std::optional<Time> timer_at;
  NodeId timer_node = kAnyNode;
  for (NodeId n = 0; n < nodes_.size(); ++n) {
    if (!nodes_[n].cm) continue;
    auto t = nodes_[n].cm->next_timeout();
    if (t && (!timer_at || *t < *timer_at)) {
      timer_at = t;
      timer_node = n;
    }
  }
  const bool use_timer = timer_at && (queue_.empty() || *timer_at <= queue_.begin()->first.first);
  if (!use_timer && queue_.empty()) return false;

  ++stats_.steps;
  if (use_timer) {
    now_ = std::max(now_, *timer_at);
    nodes_[timer_node].cm->handle_timeout(now_);
    nodes_[timer_node].dirty = true;
  } else {
    auto it = queue_.begin();
    now_ = std::max(now_, it->first.first);
    Pending p = std::move(it->second);
    queue_.erase(it);
    switch (p.kind) {
      case Pending::Kind::Deliver:
        arrive(p.record, p.epoch);
        break;
      case Pending::Kind::Act:
        p.action(*this);
        break;
      case Pending::Kind::NodeAct:
        if (nodes_[p.node].cm && nodes_[p.node].epoch == p.epoch) {
          p.node_action(*this, p.node);
          nodes_[p.node].dirty = true;
        }
        break;
    }
  }
  drain();
  return true;
}

Stop Fabric::run_until(Time until, uint64_t max_steps) {
  for (uint64_t i = 0;; ++i) {
    auto t = next_time();
    if (!t || *t > until) break;
    if (i == max_steps) return Stop::StepLimit;
    step();
  }
  now_ = std::max(now_, until);
  return idle() ? Stop::Idle : Stop::TimeLimit;
}

Stop Fabric::run_until_idle(Time limit, uint64_t max_steps) {
  for (uint64_t i = 0;; ++i) {
    auto t = next_time();
    if (!t) return Stop::Idle;
    if (*t > limit) return Stop::TimeLimit;
    if (i == max_steps) return Stop::StepLimit;
    step();
  }
}

void Fabric::drain() {
  // A consumer that asks for next_time() is already inside this loop, which will get to every
  // node it touched.
  if (draining_) return;
  FlagGuard guard(draining_);
  for (uint64_t guard = 0; guard < kDrainLimit; ++guard) {
    NodeId n = 0;
    while (n < nodes_.size() && !nodes_[n].dirty) ++n;
    if (n == nodes_.size()) return;
    nodes_[n].dirty = false;
    drain_node(n);
  }
  throw std::runtime_error("sim::Fabric: consumers keep producing output (drain limit)");
}

void Fabric::drain_node(NodeId n) {
  for (uint64_t guard = 0; guard < kDrainLimit; ++guard) {
    // Re-read every round: a consumer may have crashed or rebooted the node.
    Cm* c = nodes_[n].cm.get();
    if (!c) return;
    if (auto t = c->poll_transmit()) {
      send(n, t->to, t->mad, false);
      continue;
    }
    auto e = c->poll_event();
    if (!e) return;
    trace_.events.push_back(EventRecord{journal_seq_++, now_, n, *e});
    if (nodes_[n].handler) {
      Handler h = nodes_[n].handler;  // the handler may replace itself
      h(*this, n, *e);
    }
  }
  throw std::runtime_error("sim::Fabric: node " + nodes_[n].name + " never stops producing output");
}

}  // namespace ibcm::sim
