// Scenario runs as engine-fuzzer inputs (see scenario_seeds.h).
#include "scenario_seeds.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <tuple>

#include "engine_ops.h"
#include "ibcm/sim/consumer.h"
#include "ibcm/sim/scenario.h"
#include "ibcm/wire/mad.h"

namespace ibcm::fuzz {

namespace {

using sim::Fate;
using sim::MadRecord;
using sim::NodeId;

// What brings the fuzzer to a point of the scenario's timeline, in the order they happened: at
// equal times the simulator runs timers first, then deliveries, then what they caused (in journal
// order; arrivals are not journaled).
struct Item {
  enum class Kind : uint8_t { Arrival, Send, Event, Note } kind;
  Time at;
  uint8_t order;  // 0 timer, 1 arrival, 2 anything else
  uint64_t seq;
  size_t index;  // into trace.mads / events / notes
  bool operator<(const Item& o) const {
    return std::tie(at, order, seq) < std::tie(o.at, o.order, o.seq);
  }
};

// The argument byte that selects `v` from one of engine_fuzz's pools (its size if none does).
template <class T, size_t N>
uint8_t index_in(const T (&pool)[N], T v) {
  return static_cast<uint8_t>(std::find(std::begin(pool), std::end(pool), v) - std::begin(pool));
}
// The argument byte that makes engine_fuzz's `(base + arg) % modulus` equal `value`.
uint8_t offset_arg(unsigned value, unsigned base, unsigned modulus) {
  return static_cast<uint8_t>((value + modulus - base % modulus) % modulus);
}

bool timer_event(const Event& e) {
  return std::holds_alternative<ev::TimeWaitExit>(e) ||
         std::holds_alternative<ev::DreqTimeout>(e) || std::holds_alternative<ev::ReqTimeout>(e) ||
         std::holds_alternative<ev::RepTimeout>(e) || std::holds_alternative<ev::LapTimeout>(e) ||
         std::holds_alternative<ev::SidrTimeout>(e);
}

class Recorder {
 public:
  explicit Recorder(const sim::Fabric& f) : f_(f), t_(f.trace()) {}

  // The input, or why the scenario cannot be recorded.
  std::string record() {
    if (f_.size() != 2) return "more than two nodes";
    classify();
    if (!why_not_.empty()) return why_not_;
    for (NodeId n = 0; n < 2; ++n)
      if (listener_[n]) w_.op(Op::Listen, {static_cast<uint8_t>(n), service_});
    std::vector<Item> items;
    for (size_t i = 0; i < t_.mads.size(); ++i) {
      const MadRecord& m = t_.mads[i];
      if (!routable(m)) continue;
      if (m.arrival && m.fate != Fate::InFlight)
        items.push_back({Item::Kind::Arrival, *m.arrival, 1, 0, i});
      if (!m.duplicate)
        items.push_back(
            {Item::Kind::Send, m.sent, by_timer(i) ? uint8_t{0} : uint8_t{2}, m.seq, i});
    }
    for (size_t i = 0; i < t_.events.size(); ++i) {
      const auto& e = t_.events[i];
      items.push_back(
          {Item::Kind::Event, e.time, timer_event(e.event) ? uint8_t{0} : uint8_t{2}, e.seq, i});
    }
    for (size_t i = 0; i < t_.notes.size(); ++i)
      if (t_.notes[i].node != sim::kAnyNode)
        items.push_back({Item::Kind::Note, t_.notes[i].time, 2, t_.notes[i].seq, i});
    std::sort(items.begin(), items.end());
    gone_.assign(t_.mads.size(), false);
    for (const Item& it : items) {
      switch (it.kind) {
        case Item::Kind::Arrival:
          arrive(it.index);
          break;
        case Item::Kind::Send:
          send(it.index);
          break;
        case Item::Kind::Event:
          event(t_.events[it.index]);
          break;
        case Item::Kind::Note:
          note(t_.notes[it.index]);
          break;
      }
      if (!why_not_.empty()) return why_not_;
    }
    return {};
  }

  const std::vector<uint8_t>& input() const { return w_.bytes(); }

 private:
  static bool routable(const MadRecord& m) {
    return m.from < 2 && m.to < 2 && m.fate != Fate::Unroutable && !m.injected;
  }

  // Who sent each first copy: a consumer call (which the input must make), or the engine.
  void classify() {
    std::set<std::tuple<NodeId, NodeId, wire::MadBytes>> seen;
    std::set<std::pair<NodeId, ConnId>> dreq_received;
    std::set<std::pair<NodeId, Time>>
        stale_rej;  // REJ 10 sent: the DREQ/DREP with it is the engine's
    for (const auto& e : t_.events) {
      if (auto* r = std::get_if<ev::ReqReceived>(&e.event)) {
        if (r->peer_to_peer)
          p2p_ = true;
        else
          listener_[e.node] = true;
      }
      if (std::holds_alternative<ev::SidrReqReceived>(e.event)) listener_[e.node] = true;
    }
    for (const auto& m : t_.mads)
      if (auto d = wire::decode(m.bytes);
          d && std::holds_alternative<wire::Rej>(d->message) &&
          std::get<wire::Rej>(d->message).reason == wire::RejReason::StaleConnection)
        stale_rej.insert({m.from, m.sent});
    size_t next_event = 0;
    consumer_.assign(t_.mads.size(), false);
    for (size_t i = 0; i < t_.mads.size(); ++i) {
      const MadRecord& m = t_.mads[i];
      for (; next_event < t_.events.size() && t_.events[next_event].seq < m.seq; ++next_event)
        if (auto* d = std::get_if<ev::DreqReceived>(&t_.events[next_event].event))
          dreq_received.insert({t_.events[next_event].node, d->conn});
      if (!routable(m) || m.duplicate || !seen.insert({m.from, m.to, m.bytes}).second) continue;
      auto d = wire::decode(m.bytes);
      if (!d) continue;
      const bool with_stale_rej = stale_rej.count({m.from, m.sent}) != 0;
      std::visit(
          [&](const auto& msg) {
            using M = std::decay_t<decltype(msg)>;
            if constexpr (std::is_same_v<M, wire::Req>) {
              consumer_[i] = true;
              service_ = index_in(kServices, msg.service_id);
              if (service_ == std::size(kServices)) why_not_ = "a service ID not in kServices";
              if (index_in(kQpns, msg.local_qpn) == std::size(kQpns))
                why_not_ = "a REQ's QPN not in kQpns";
            } else if constexpr (std::is_same_v<M, wire::Rep>) {
              consumer_[i] = true;
              if (index_in(kQpns, msg.local_qpn) == std::size(kQpns))
                why_not_ = "a REP's QPN not in kQpns";
            } else if constexpr (std::is_same_v<M, wire::Rtu> || std::is_same_v<M, wire::Mra>) {
              consumer_[i] = true;
            } else if constexpr (std::is_same_v<M, wire::Rej>) {
              consumer_[i] = msg.reason == wire::RejReason::ConsumerDefined && msg.local_comm_id;
            } else if constexpr (std::is_same_v<M, wire::Dreq>) {
              consumer_[i] = !with_stale_rej;
            } else if constexpr (std::is_same_v<M, wire::Drep>) {
              consumer_[i] = !with_stale_rej && dreq_received.count({m.from, msg.local_comm_id});
            } else {
              why_not_ = "a " + std::string(wire::name_of(d->message)) + " from its consumer";
            }
          },
          d->message);
    }
  }

  // The fuzzer's in-flight index of record i: the earlier copies still in flight before it.
  size_t in_flight_index(size_t i) const {
    size_t k = 0;
    for (size_t q = 0; q < i; ++q) k += routable(t_.mads[q]) && !t_.mads[q].duplicate && !gone_[q];
    return k;
  }
  size_t original_of(size_t i) const {
    if (!t_.mads[i].duplicate) return i;
    for (size_t q = i; q-- > 0;)
      if (!t_.mads[q].duplicate && t_.mads[q].bytes == t_.mads[i].bytes &&
          t_.mads[q].from == t_.mads[i].from && t_.mads[q].to == t_.mads[i].to)
        return q;
    return i;
  }

  void arrive(size_t i) {
    const size_t o = original_of(i);
    if (gone_[o]) return;
    // The copies of o (o and its duplicates) that the scenario delivered after this one.
    size_t delivered_later = 0, delivered = 0;
    for (size_t q = o; q < t_.mads.size(); ++q) {
      if (original_of(q) != o || t_.mads[q].fate != Fate::Delivered) continue;
      ++delivered;
      delivered_later += *t_.mads[q].arrival > *t_.mads[i].arrival ||
                         (*t_.mads[q].arrival == *t_.mads[i].arrival && q > i);
    }
    const size_t at = in_flight_index(o);
    if (at > 0xff) return fail("more than 256 MADs in flight");
    advance_to(*t_.mads[i].arrival);
    const uint8_t a = static_cast<uint8_t>(at);
    if (t_.mads[i].fate == Fate::Delivered) {
      w_.op(delivered_later ? Op::Duplicate : Op::Deliver, {a});
      gone_[o] = delivered_later == 0;
    } else if (i == o && delivered == 0) {
      w_.op(Op::Drop, {a});
      gone_[o] = true;
    }
  }

  void send(size_t i) {
    const MadRecord& m = t_.mads[i];
    if (!consumer_[i]) {
      if (by_timer(i)) run_timers(m.sent);  // a retry or a timeout's REJ
      return;
    }
    advance_to(m.sent);
    auto d = wire::decode(m.bytes);
    const auto n = static_cast<uint8_t>(m.from);
    std::visit(
        [&](const auto& msg) {
          using M = std::decay_t<decltype(msg)>;
          if constexpr (std::is_same_v<M, wire::Req>) {
            const uint32_t psn = msg.starting_psn;
            // The packet lifetime is not on the wire: the scenarios' is make_connect_params'.
            const uint8_t plt =
                sim::make_connect_params(f_, m.from, m.to, msg.service_id, 1, 0).packet_life_time;
            w_.op(Op::Connect,
                  {static_cast<uint8_t>(n | (p2p_ ? 0x02 : 0)), index_in(kQpns, msg.local_qpn),
                   service_, 0, offset_arg(msg.max_cm_retries, 15, 17), offset_arg(plt, 18, 32),
                   offset_arg(msg.remote_cm_response_timeout, 20, 32),
                   offset_arg(msg.primary.local_ack_timeout, 19, 32),
                   static_cast<uint8_t>(psn >> 24), static_cast<uint8_t>(psn >> 16),
                   static_cast<uint8_t>(psn >> 8), static_cast<uint8_t>(psn)});
            known_[n].push_back(msg.local_comm_id);
          } else if constexpr (std::is_same_v<M, wire::Rep>) {
            const uint32_t psn = msg.starting_psn;
            w_.op(Op::Accept, {n, conn(n, msg.local_comm_id),
                               offset_arg(index_in(kQpns, msg.local_qpn), 2, std::size(kQpns)), 0,
                               0, static_cast<uint8_t>(psn >> 16), static_cast<uint8_t>(psn >> 8),
                               static_cast<uint8_t>(psn)});
          } else if constexpr (std::is_same_v<M, wire::Rtu>) {
            w_.op(Op::SendRtu, {n, conn(n, msg.local_comm_id)});
          } else if constexpr (std::is_same_v<M, wire::Mra>) {
            w_.op(Op::SendMra, {n, conn(n, msg.local_comm_id), msg.service_timeout});
          } else if constexpr (std::is_same_v<M, wire::Rej>) {
            w_.op(Op::Reject, {n, conn(n, msg.local_comm_id), static_cast<uint8_t>(msg.reason)});
          } else if constexpr (std::is_same_v<M, wire::Dreq>) {
            w_.op(Op::Disconnect, {n, conn(n, msg.local_comm_id)});
          } else if constexpr (std::is_same_v<M, wire::Drep>) {
            w_.op(Op::SendDrep, {n, conn(n, msg.local_comm_id)});
          }
        },
        d->message);
  }

  void event(const sim::EventRecord& e) {
    if (auto* r = std::get_if<ev::ReqReceived>(&e.event); r && !r->peer_to_peer)
      known_[e.node].push_back(r->conn);  // as engine_fuzz remembers it
    else if (timer_event(e.event))
      run_timers(e.time);
  }

  void note(const sim::Note& n) {
    if (n.node >= 2) return;
    advance_to(n.time);
    if (n.text == "crash") {
      w_.op(Op::Reboot, {static_cast<uint8_t>(n.node)});
      known_[n.node].clear();
    } else if (n.text == "reboot" && listener_[n.node]) {
      w_.op(Op::Listen, {static_cast<uint8_t>(n.node), service_});
    }
  }

  // engine_fuzz picks a connection as the sel-th newest it knows on that node.
  uint8_t conn(uint8_t n, ConnId id) {
    const auto& k = known_[n];
    auto it = std::find(k.rbegin(), k.rend(), id);
    if (it == k.rend() || it - k.rbegin() > 0xfe) fail("a connection the fuzzer does not know");
    return static_cast<uint8_t>(it - k.rbegin());
  }

  // Sent by the engine, not in answer to a MAD: a timer sent it.
  bool by_timer(size_t i) const {
    return !consumer_[i] && !arrived_at(t_.mads[i].from, t_.mads[i].sent);
  }
  bool arrived_at(NodeId n, Time t) const {
    for (const auto& m : t_.mads)
      if (m.to == n && m.fate == Fate::Delivered && m.arrival == t) return true;
    return false;
  }

  // Time moves to the next timer of either CM, exactly as it fired in the scenario (once per
  // moment: one timer may send a REJ and end a connection).
  void run_timers(Time at) {
    if (last_timer_ && *last_timer_ == at) return;
    last_timer_ = at;
    w_.op(Op::RunTimers);
    now_ = std::max(now_, at);
  }

  // Time moves on to `at` in whole microseconds, rounded up: a little late rather than early.
  void advance_to(Time at) {
    using std::chrono::microseconds;
    const auto target = std::chrono::ceil<microseconds>(at);
    const auto from = std::chrono::ceil<microseconds>(now_);
    if (target <= from) return;
    const auto us = static_cast<uint64_t>((target - from).count());
    // engine_fuzz advances by up to 2^20 - 1 ms (kind 2) or 2^16 - 1 us (kind 0) at a time.
    for (uint64_t ms = us / 1000; ms > 0;) {
      const uint64_t step = std::min<uint64_t>(ms, 0xfffff);
      put_advance(2, static_cast<uint32_t>(step));
      ms -= step;
    }
    if (us % 1000) put_advance(0, static_cast<uint32_t>(us % 1000));
    now_ = target;
  }
  void put_advance(uint8_t kind, uint32_t amount) {
    w_.op(Op::Advance,
          {kind, static_cast<uint8_t>(amount >> 24), static_cast<uint8_t>(amount >> 16),
           static_cast<uint8_t>(amount >> 8), static_cast<uint8_t>(amount)});
  }

  void fail(std::string why) {
    if (why_not_.empty()) why_not_ = std::move(why);
  }

  const sim::Fabric& f_;
  const sim::Trace& t_;
  Writer w_;
  bool listener_[2] = {false, false};
  bool p2p_ = false;
  uint8_t service_ = 0;  // the scenario's, as an index into kServices
  std::vector<bool> consumer_, gone_;
  std::vector<ConnId> known_[2];
  Time now_{0};
  std::optional<Time> last_timer_;
  std::string why_not_;
};

}  // namespace

std::vector<ScenarioSeed> scenario_seeds() {
  std::vector<ScenarioSeed> out;
  for (const auto& s : sim::scenarios()) {
    const sim::ScenarioReport r = s.run(1);
    Recorder rec(*r.fabric);
    ScenarioSeed seed{std::string(s.name), {}, rec.record()};
    if (seed.why_not.empty()) seed.input = rec.input();
    out.push_back(std::move(seed));
  }
  return out;
}

}  // namespace ibcm::fuzz
