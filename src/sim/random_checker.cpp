// Invariant checks for random simulation runs (see random_checker.h).
#include "sim/random_checker.h"

#include <set>

#include "ibcm/wire/mad.h"

namespace ibcm::sim {

namespace {
constexpr size_t kMaxViolations = 50;  // enough to diagnose; a broken rule repeats itself

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}
}  // namespace

void RandomChecker::violation(std::string s) {
  if (violations_.size() < kMaxViolations) violations_.push_back(std::move(s));
}

void RandomChecker::after_step(Fabric& f) {
  const Trace& t = f.trace();
  // Events and notes in journal order, so that a crash separates the events of two boots.
  while (events_seen_ < t.events.size() || notes_seen_ < t.notes.size()) {
    const bool note_first =
        notes_seen_ < t.notes.size() &&
        (events_seen_ == t.events.size() || t.notes[notes_seen_].seq < t.events[events_seen_].seq);
    if (note_first) {
      const Note& n = t.notes[notes_seen_++];
      if (n.node != kAnyNode && n.text == "crash") ++boots_[n.node];
    } else {
      on_event(f, t.events[events_seen_++]);
    }
  }
  for (; mads_seen_ < t.mads.size(); ++mads_seen_) {
    const MadRecord& m = t.mads[mads_seen_];
    if (m.attr() == static_cast<uint16_t>(wire::AttrId::Rej) && !m.duplicate && !m.injected)
      check_stale_rule(f, m);
  }
}

void RandomChecker::on_event(Fabric& f, const EventRecord& e) {
  (void)f;
  const ConnId c = event_conn(e.event);
  if (c == 0) return;  // SIDR
  Log& l = logs_[Key{e.node, boots_[e.node], c}];
  const std::string_view name = event_name(e.event);
  const std::string where = "node " + std::to_string(e.node) + " conn " + hex(c) + ": ";
  if (l.ended) {
    violation(where + std::string(name) + " after timewait_exit / req_timeout");
    return;
  }
  auto once = [&](bool& seen) {
    if (seen) violation(where + std::string(name) + " delivered twice");
    seen = true;
  };
  if (std::holds_alternative<ev::ReqReceived>(e.event)) {
    once(l.req);
  } else if (std::holds_alternative<ev::RepReceived>(e.event)) {
    once(l.rep);
  } else if (std::holds_alternative<ev::Established>(e.event)) {
    if (!l.req && !l.rep) violation(where + "established before any REQ or REP");
    once(l.established);
  } else if (std::holds_alternative<ev::DreqReceived>(e.event)) {
    once(l.dreq);
  } else if (std::holds_alternative<ev::DrepReceived>(e.event) ||
             std::holds_alternative<ev::DreqTimeout>(e.event)) {
    if (l.drep_or_timeout) violation(where + std::string(name) + " after drep_received/timeout");
    l.drep_or_timeout = true;
  } else if (std::holds_alternative<ev::TimeWaitExit>(e.event) ||
             std::holds_alternative<ev::ReqTimeout>(e.event)) {
    l.ended = true;
  }
}

// A REJ 10 answers a REQ or REP from a (QPN, CA GUID) we held a connection for. Right after it,
// that old connection must be leaving: DREQ_SENT, or TIMEWAIT (if it was in DREQ_RCVD or already
// there). Anything else means the peer's old connection was left to rot.
void RandomChecker::check_stale_rule(Fabric& f, const MadRecord& m) {
  auto d = wire::decode(m.bytes);
  if (!d) return;
  const auto& rej = std::get<wire::Rej>(d->message);
  if (rej.reason != wire::RejReason::StaleConnection) return;
  if (rej.message_rejected != wire::MsgRef::Req && rej.message_rejected != wire::MsgRef::Rep)
    return;
  // The message it rejects: the last REQ/REP from that node naming comm ID rej.remote_comm_id.
  const auto& mads = f.trace().mads;
  uint32_t qpn = 0;
  uint64_t guid = 0;
  bool found = false;
  for (size_t i = mads_seen_; i-- > 0 && !found;) {
    const MadRecord& x = mads[i];
    if (x.from != m.to || x.to != m.from || x.fate != Fate::Delivered) continue;
    auto dx = wire::decode(x.bytes);
    if (!dx) continue;
    if (auto* req = std::get_if<wire::Req>(&dx->message);
        req && req->local_comm_id == rej.remote_comm_id) {
      qpn = req->local_qpn, guid = req->local_ca_guid, found = true;
    } else if (auto* rep = std::get_if<wire::Rep>(&dx->message);
               rep && rep->local_comm_id == rej.remote_comm_id) {
      qpn = rep->local_qpn, guid = rep->local_ca_guid, found = true;
    }
  }
  Cm* cm = f.find_cm(m.from);
  if (!found || !cm) return;
  const auto conns = cm->connections();
  // A duplicate of a REQ whose connection is in TIMEWAIT also gets REJ 10: that answers the old
  // connection's own REQ and detects nothing stale.
  for (const auto& c : conns)
    if (c.remote_id == rej.remote_comm_id && c.remote_ca_guid == guid) return;
  for (const auto& c : conns) {
    if (c.remote_qpn != qpn || c.remote_ca_guid != guid) continue;
    if (c.state == State::DreqSent || c.state == State::TimeWait) continue;
    violation("node " + std::to_string(m.from) + " conn " + hex(c.id) + ": REJ 10 for QPN " +
              hex(qpn) + " but the stale connection stays in " + std::string(to_string(c.state)));
  }
}

std::vector<std::pair<NodeId, ConnId>> RandomChecker::at_idle(Fabric& f, const std::string& phase) {
  std::vector<std::pair<NodeId, ConnId>> one_sided;
  for (NodeId n = 0; n < f.size(); ++n) {
    Cm* cm = f.find_cm(n);
    if (!cm) continue;
    const auto conns = cm->connections();
    std::set<uint32_t> qpns;
    for (const auto& c : conns) {
      const std::string where = phase + ": node " + std::to_string(n) + " conn " + hex(c.id) + ": ";
      if (c.state != State::Established)
        violation(where + "stuck in " + std::string(to_string(c.state)) + " with no timer left");
      if (c.timer_armed) violation(where + "a timer is armed at idle");
      if (!qpns.insert(c.local_qpn).second)
        violation(where + "QPN " + hex(c.local_qpn) + " bound to two connections");
      if (c.state != State::Established) continue;
      // The peer must hold the other end: its comm ID, ESTABLISHED, QPNs crossed.
      bool agreed = false;
      if (auto peer = f.node_of(c.peer.gid); peer && f.find_cm(*peer)) {
        Cm& p = *f.find_cm(*peer);
        auto s = p.state(c.remote_id);
        if (s == State::Established) {
          for (const auto& pc : p.connections())
            if (pc.id == c.remote_id)
              agreed = pc.remote_id == c.id && pc.remote_qpn == c.local_qpn &&
                       pc.local_qpn == c.remote_qpn;
        }
      }
      if (!agreed) one_sided.emplace_back(n, c.id);
    }
    if (cm->timer_count() != 0 && conns.empty() && cm->sidr_count() == 0)
      violation(phase + ": node " + std::to_string(n) + ": " + std::to_string(cm->timer_count()) +
                " timers armed with nothing to time");
  }
  return one_sided;
}

void RandomChecker::at_end(Fabric& f) {
  for (NodeId n = 0; n < f.size(); ++n) {
    Cm* cm = f.find_cm(n);
    if (!cm) continue;
    if (cm->connection_count() || cm->timer_count() || cm->sidr_count())
      violation("end: node " + std::to_string(n) +
                " leaks: " + std::to_string(cm->connection_count()) + " connections, " +
                std::to_string(cm->timer_count()) + " timers, " + std::to_string(cm->sidr_count()) +
                " SIDR entries");
  }
}

}  // namespace ibcm::sim
