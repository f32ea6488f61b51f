// The path of one MAD through the fabric: routing, partitions, fault rules, the random link
// model, and arrival. Every copy gets a MadRecord whose fate is settled here.
#include "ibcm/sim/fabric.h"

namespace ibcm::sim {

void Fabric::inject(NodeId from, const Address& to, const wire::MadBytes& mad) {
  node(from);
  send(from, to, mad, true);
}

Fabric::Rule* Fabric::match_rule(const MadRecord& r) {
  std::optional<wire::Mad> decoded;
  for (Rule& rule : rules_) {
    const FaultRule& f = rule.rule;
    if (rule.hits >= f.count) continue;
    if (f.attr && static_cast<uint16_t>(*f.attr) != r.attr()) continue;
    if (f.from != kAnyNode && f.from != r.from) continue;
    if (f.to != kAnyNode && f.to != r.to) continue;
    if (f.where) {
      if (!decoded) {
        auto d = wire::decode(r.bytes);
        if (!d) continue;
        decoded = *d;
      }
      if (!f.where(*decoded)) continue;
    }
    // A rule still letting matches pass does not hide the MAD from later rules.
    if (rule.seen++ < f.skip) continue;
    ++rule.hits;
    return &rule;
  }
  return nullptr;
}

void Fabric::send(NodeId from, const Address& to, const wire::MadBytes& mad, bool injected) {
  ++stats_.sent;
  MadRecord r;
  r.seq = journal_seq_++;
  r.sent = now_;
  r.from = from;
  r.from_address = nodes_[from].address;
  r.to_address = to;
  r.bytes = mad;
  r.injected = injected;

  auto settle = [&](Fate f, uint64_t& counter) {
    r.fate = f;
    ++counter;
    trace_.mads.push_back(r);
  };
  auto dest = node_of(to.gid);
  if (!dest) return settle(Fate::Unroutable, stats_.unroutable);
  r.to = *dest;
  if (!reachable(from, r.to)) return settle(Fate::Partitioned, stats_.partitioned);

  Time extra{0};
  bool dup = false;
  if (Rule* rule = match_rule(r)) {
    switch (rule->rule.action) {
      case FaultAction::Drop:
        return settle(Fate::Dropped, stats_.dropped);
      case FaultAction::Duplicate:
        dup = true;
        break;
      case FaultAction::Delay:
        extra = rule->rule.delay;
        ++stats_.delayed;
        break;
    }
  }
  const LinkParams& lp = link(from, r.to);
  if (rng_.chance(lp.loss)) return settle(Fate::Lost, stats_.lost);
  if (!dup) dup = rng_.chance(lp.duplicate);

  const size_t first = trace_.mads.size();
  trace_.mads.push_back(r);
  put_on_wire(first, extra);
  if (dup) {
    MadRecord copy = r;
    copy.seq = journal_seq_++;
    copy.duplicate = true;
    ++stats_.duplicated;
    trace_.mads.push_back(copy);
    put_on_wire(trace_.mads.size() - 1, Time{0});
  }
}

void Fabric::put_on_wire(size_t record, Time extra_delay) {
  MadRecord& r = trace_.mads[record];
  const LinkParams& lp = link(r.from, r.to);
  Time delay = lp.latency + rng_.upto(lp.jitter) + extra_delay;
  if (rng_.chance(lp.reorder)) {
    delay += rng_.upto(lp.reorder_delay);
    r.reordered = true;
    ++stats_.reordered;
  }
  r.arrival = now_ + delay;
  Pending p;
  p.kind = Pending::Kind::Deliver;
  p.record = record;
  p.node = r.to;
  p.epoch = nodes_[r.to].epoch;
  push(*r.arrival, std::move(p));
}

void Fabric::arrive(size_t record, uint32_t dest_epoch) {
  MadRecord& r = trace_.mads[record];
  Node& d = nodes_[r.to];
  if (!reachable(r.from, r.to)) {
    r.fate = Fate::Partitioned;
    ++stats_.partitioned;
  } else if (!d.cm || d.epoch != dest_epoch) {
    r.fate = Fate::NodeDown;
    ++stats_.node_down;
  } else {
    r.fate = Fate::Delivered;
    ++stats_.delivered;
    d.cm->handle_mad(now_, r.from_address, r.bytes);
    d.dirty = true;
  }
}

}  // namespace ibcm::sim
