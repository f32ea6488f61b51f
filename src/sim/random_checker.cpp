// Invariant checks for random simulation runs (see random_checker.h).
#include "sim/random_checker.h"

#include <cstdio>
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

std::string RandomChecker::where(NodeId n, ConnId c) const {
  return "node " + std::to_string(n) + " conn " + hex(c) + ": ";
}

RandomChecker::Conn* RandomChecker::find(NodeId n, ConnId c) {
  auto it = conns_.find(Key{n, boots_[n], c});
  return it == conns_.end() ? nullptr : &it->second;
}

void RandomChecker::after_step(Fabric& f) {
  catch_up(f);
  const Trace& t = f.trace();
  for (; mads_seen_ < t.mads.size(); ++mads_seen_) {
    const MadRecord& m = t.mads[mads_seen_];
    if (m.attr() == static_cast<uint16_t>(wire::AttrId::Rej) && !m.duplicate && !m.injected)
      check_stale_rule(f, m);
  }
}

void RandomChecker::catch_up(Fabric& f) {
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
}

void RandomChecker::connected(Fabric& f, NodeId n, ConnId c, uint32_t qpn, NodeId peer) {
  catch_up(f);
  const Key k{n, boots_[n], c};
  if (conns_.count(k))
    violation(where(n, c) + "connect() returned the ID of an earlier connection");
  Conn& x =
      conns_
          .insert_or_assign(k, Conn(ConnLife::active(), peer, boots_[peer], f.trace().mads.size()))
          .first->second;
  bind_qpn(f, n, c, x, qpn);
}

void RandomChecker::accepted(Fabric& f, NodeId n, ConnId c, uint32_t qpn) {
  catch_up(f);
  Conn* x = find(n, c);
  if (!x) return violation(where(n, c) + "accept() succeeded on a connection never received");
  step(n, c, *x, to_string(Call::Accept), x->life.call(Call::Accept));
  bind_qpn(f, n, c, *x, qpn);
}

void RandomChecker::called(Fabric& f, NodeId n, ConnId c, Call call) {
  catch_up(f);
  Conn* x = find(n, c);
  if (!x)
    return violation(where(n, c) + std::string(to_string(call)) +
                     " succeeded on a connection its consumer never heard of");
  step(n, c, *x, to_string(call), x->life.call(call));
}

void RandomChecker::sidr_requested(Fabric& f, NodeId n, SidrId id) {
  catch_up(f);
  if (!sidrs_.try_emplace(SidrKey{n, boots_[n], id}, false).second)
    violation("node " + std::to_string(n) + " SIDR " + hex(id) + ": request ID given out twice");
}

void RandomChecker::on_event(Fabric& f, const EventRecord& e) {
  const NodeId n = e.node;
  const std::string_view name = event_name(e.event);
  SidrId sidr = 0;
  if (auto* x = std::get_if<ev::SidrRepReceived>(&e.event)) sidr = x->id;
  if (auto* x = std::get_if<ev::SidrTimeout>(&e.event)) sidr = x->id;
  if (sidr != 0) {
    auto it = sidrs_.find(SidrKey{n, boots_[n], sidr});
    const std::string at = "node " + std::to_string(n) + " SIDR " + hex(sidr) + ": ";
    if (it == sidrs_.end())
      violation(at + std::string(name) + " for a request never made");
    else if (it->second)
      violation(at + std::string(name) + " after the request was answered or timed out");
    else
      it->second = true;
    return;
  }
  const ConnId c = event_conn(e.event);
  if (c == 0) return;  // sidr_req_received: the consumer answers it, nothing is owed to it
  Conn* x = find(n, c);
  if (!x) {
    if (auto* req = std::get_if<ev::ReqReceived>(&e.event)) {
      const NodeId peer = f.node_of(req->from.gid).value_or(n);
      conns_.emplace(Key{n, boots_[n], c},
                     Conn(ConnLife::passive(), peer, boots_[peer], f.trace().mads.size()));
    } else {
      violation(where(n, c) + std::string(name) + " for a connection its consumer never heard of");
    }
    return;
  }
  step(n, c, *x, name, x->life.event(e.event));
}

void RandomChecker::step(NodeId n, ConnId c, Conn& x, std::string_view what,
                         const std::string& error) {
  if (!error.empty()) violation(where(n, c) + error);
  if (x.life.stage() != ConnLife::Stage::Established && x.left_established.empty() &&
      x.was_established)
    x.left_established = what;
  x.was_established = x.life.stage() == ConnLife::Stage::Established;
  if (x.life.stage() == ConnLife::Stage::Ended && x.qpn != 0) {
    auto it = qpns_.find(QpKey{n, boots_[n], x.qpn});
    if (it != qpns_.end() && it->second == c) qpns_.erase(it);
    x.qpn = 0;
  }
}

void RandomChecker::bind_qpn(Fabric& f, NodeId n, ConnId c, Conn& x, uint32_t qpn) {
  if (qpn == 0) return;
  auto [it, fresh] = qpns_.try_emplace(QpKey{n, boots_[n], qpn}, c);
  if (!fresh && it->second != c) {
    // A destroyed connection frees its QPN silently (after its TIMEWAIT, if it has one): ask.
    const ConnId old = it->second;
    const Conn* holder = find(n, old);
    Cm* cm = f.find_cm(n);
    const auto old_state = cm ? cm->state(old) : std::nullopt;
    const bool freed =
        holder && holder->life.stage() == ConnLife::Stage::Destroyed && !old_state.has_value();
    if (!freed)
      violation(where(n, c) + "QPN " + hex(qpn) + " bound while connection " + hex(old) +
                " still holds it (" +
                std::string(holder ? to_string(holder->life.stage()) : "unknown") + ", engine " +
                std::string(old_state ? to_string(*old_state) : "gone") + ")");
    it->second = c;
  }
  x.qpn = qpn;
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
  catch_up(f);
  std::vector<std::pair<NodeId, ConnId>> one_sided;
  for (NodeId n = 0; n < f.size(); ++n) {
    Cm* cm = f.find_cm(n);
    if (!cm) continue;
    const auto conns = cm->connections();
    std::set<uint32_t> qpns;
    for (const auto& c : conns) {
      const std::string at = phase + ": " + where(n, c.id);
      if (!find(n, c.id)) violation(at + "a connection its consumer never heard of");
      if (c.state != State::Established)
        violation(at + "stuck in " + std::string(to_string(c.state)) + " with no timer left");
      if (c.timer_armed) violation(at + "a timer is armed at idle");
      if (!qpns.insert(c.local_qpn).second)
        violation(at + "QPN " + hex(c.local_qpn) + " bound to two connections");
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
  check_lives(f, phase);
  return one_sided;
}

// Every connection of a node that is up has nothing owed to its consumer, and the engine agrees
// with what the consumer was told: ESTABLISHED, or gone. A connection the engine freed while its
// consumer still waits for an outcome (or a DREP, or timewait_exit) is an event that never came.
void RandomChecker::check_lives(Fabric& f, const std::string& phase) {
  for (const auto& [k, x] : conns_) {
    const auto [n, boot, c] = k;
    Cm* cm = f.find_cm(n);
    if (!cm || boot != boots_[n]) continue;  // a crash ended it with the node
    const auto s = cm->state(c);
    if (s && *s != State::Established) continue;  // stuck: reported above
    const std::string at = phase + ": " + where(n, c);
    const ConnLife::Stage stage = x.life.stage();
    if (!x.life.settled())
      violation(at + "its consumer is still owed an event (" + std::string(to_string(stage)) +
                "), but the engine " + (s ? "holds it ESTABLISHED" : "has freed it"));
    else if (stage == ConnLife::Stage::Established && !s)
      violation(at + "freed without telling its consumer, which holds it established");
    else if (stage != ConnLife::Stage::Established && s)
      violation(at + "ESTABLISHED in the engine, " + std::string(to_string(stage)) +
                " for its consumer");
  }
  for (const auto& [k, answered] : sidrs_) {
    const auto [n, boot, id] = k;
    if (!answered && boot == boots_[n] && f.find_cm(n))
      violation(phase + ": node " + std::to_string(n) + " SIDR " + hex(id) +
                ": neither sidr_rep_received nor sidr_timeout");
  }
}

std::vector<RandomChecker::OneSided> RandomChecker::explain_one_sided(
    Fabric& f, const std::vector<std::pair<NodeId, ConnId>>& one_sided) {
  std::vector<OneSided> out;
  const auto& mads = f.trace().mads;
  for (auto [n, c] : one_sided) {
    const std::string at = "after heal: " + where(n, c) + "ESTABLISHED on this side only: ";
    const Conn* x = find(n, c);
    Cm* cm = f.find_cm(n);
    if (!x || x->peer == kAnyNode || !cm) continue;  // reported by at_idle
    const NodeId p = x->peer;
    uint32_t remote = 0;  // the peer's end we agreed on (an earlier one may have said REJ)
    for (const auto& i : cm->connections())
      if (i.id == c) remote = i.remote_id;
    if (boots_[p] != x->peer_boot) {
      out.push_back({n, c, OneSided::Why::PeerRebooted});
      continue;
    }
    // The peer has been up since the handshake: it gave the connection up with a REJ or a DREQ
    // naming it, and none of their copies reached us; anything else is a disagreement.
    const MadRecord* sent = nullptr;
    const MadRecord* reached = nullptr;
    for (size_t i = x->first_mad; i < mads.size() && !reached; ++i) {
      const MadRecord& m = mads[i];
      if (m.from != p || m.to != n) continue;
      const uint16_t attr = m.attr();
      if (attr != static_cast<uint16_t>(wire::AttrId::Rej) &&
          attr != static_cast<uint16_t>(wire::AttrId::Dreq))
        continue;
      auto d = wire::decode(m.bytes);
      if (!d) continue;
      std::pair<uint32_t, uint32_t> ids;  // (the sender's end, ours)
      if (auto* rej = std::get_if<wire::Rej>(&d->message))
        ids = {rej->local_comm_id, rej->remote_comm_id};
      if (auto* dreq = std::get_if<wire::Dreq>(&d->message))
        ids = {dreq->local_comm_id, dreq->remote_comm_id};
      if (ids != std::pair{remote, c}) continue;
      sent = &m;
      if (m.fate == Fate::Delivered) reached = &m;
    }
    char when[32];
    if (reached) {
      std::snprintf(when, sizeof when, "%.6f ms",
                    static_cast<double>(reached->arrival.value_or(reached->sent).count()) / 1e6);
      violation(at + "peer node " + std::to_string(p) +
                ", up since the handshake, gave it up and its " +
                std::string(wire::attr_name(reached->attr())) + " reached this node at " + when);
    } else if (sent) {
      out.push_back({n, c, OneSided::Why::LastWordLost});
    } else {
      const Conn* end = remote ? find(p, remote) : nullptr;
      violation(at + "peer node " + std::to_string(p) + ", up since the handshake, ended its end " +
                hex(remote) + " without a REJ or DREQ to this node" +
                (end && !end->left_established.empty()
                     ? " (it left ESTABLISHED on " + std::string(end->left_established) + ")"
                     : ""));
    }
  }
  return out;
}

void RandomChecker::at_end(Fabric& f) {
  catch_up(f);
  for (NodeId n = 0; n < f.size(); ++n) {
    Cm* cm = f.find_cm(n);
    if (!cm) continue;
    if (cm->connection_count() || cm->timer_count() || cm->sidr_count())
      violation("end: node " + std::to_string(n) +
                " leaks: " + std::to_string(cm->connection_count()) + " connections, " +
                std::to_string(cm->timer_count()) + " timers, " + std::to_string(cm->sidr_count()) +
                " SIDR entries");
  }
  check_lives(f, "end");
}

}  // namespace ibcm::sim
