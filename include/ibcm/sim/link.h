/// @file
/// How the simulated fabric carries a MAD from one node to another: a random link model per
/// ordered pair of nodes, and scripted one-shot faults for scenarios ("the first REP is lost").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "ibcm/api.h"
#include "ibcm/engine/types.h"
#include "ibcm/wire/messages.h"

IBCM_API_BEGIN

namespace ibcm::sim {

/// Nodes are numbered 0..N-1 in creation order.
using NodeId = uint32_t;
constexpr NodeId kAnyNode = UINT32_MAX;  ///< in a FaultRule: any node; in a record: no node

struct LinkParams {
  Time latency = std::chrono::microseconds(5);
  Time jitter{0};   ///< extra delay, uniform in [0, jitter]
  double loss = 0;  ///< probability that a copy is lost
  /// Probability that the link delivers a second copy of a MAD. The copy travels with its own
  /// delay and is not lost again (one fault per MAD keeps the statistics easy to reason about).
  double duplicate = 0;
  /// Probability that a copy is held back by an extra delay, uniform in [0, reorder_delay], so
  /// MADs sent after it can overtake it.
  double reorder = 0;
  Time reorder_delay = std::chrono::microseconds(100);
};

enum class FaultAction : uint8_t {
  Drop,       ///< the MAD never arrives
  Duplicate,  ///< a second copy arrives (with its own link delay)
  Delay,      ///< the MAD arrives FaultRule::delay later than the link would deliver it
};

/// Matches MADs at send time, in the order rules were added; the first live rule that matches
/// acts and uses up one of its `count`.
struct FaultRule {
  std::optional<wire::AttrId> attr;  ///< any attribute when unset
  NodeId from = kAnyNode;
  NodeId to = kAnyNode;
  /// Extra condition on the decoded MAD (e.g. a REJ with a given reason); MADs that do not decode
  /// never match a rule that has one.
  std::function<bool(const wire::Mad&)> where;
  uint32_t skip = 0;   ///< let this many matching MADs pass first ("the second REP")
  uint32_t count = 1;  ///< act on this many matching MADs, then the rule is spent
  FaultAction action = FaultAction::Drop;
  Time delay{0};  ///< for Delay
};

using RuleId = uint32_t;

/// "Drop the next `count` MADs of type `attr` from `from` to `to`."
inline FaultRule drop_next(std::optional<wire::AttrId> attr, NodeId from = kAnyNode,
                           NodeId to = kAnyNode, uint32_t count = 1) {
  FaultRule r;
  r.attr = attr;
  r.from = from;
  r.to = to;
  r.count = count;
  return r;
}
inline FaultRule duplicate_next(std::optional<wire::AttrId> attr, NodeId from = kAnyNode,
                                NodeId to = kAnyNode, uint32_t count = 1) {
  FaultRule r = drop_next(attr, from, to, count);
  r.action = FaultAction::Duplicate;
  return r;
}
inline FaultRule delay_next(std::optional<wire::AttrId> attr, Time delay, NodeId from = kAnyNode,
                            NodeId to = kAnyNode, uint32_t count = 1) {
  FaultRule r = drop_next(attr, from, to, count);
  r.action = FaultAction::Delay;
  r.delay = delay;
  return r;
}

}  // namespace ibcm::sim

IBCM_API_END
