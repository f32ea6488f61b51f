// The scenario harness: fabric set-up, trace lookups and the stale-reconnect consumer.
#include "sim/story.h"

#include <memory>
#include <set>

namespace ibcm::sim::story {

Story::Story(std::string_view name, std::string_view title, uint64_t seed) {
  FabricConfig fc;
  fc.nodes = 2;
  fc.seed = seed;
  fc.link.latency = kLatency;
  r_.name = name;
  r_.title = title;
  r_.seed = seed;
  r_.fabric = std::make_unique<Fabric>(fc);
}

void Story::run() {
  r_.stop = f().run_until_idle(f().now() + kRunLimit);
  check(r_.stop == Stop::Idle, "the run ends with nothing in flight and no timer armed");
}

std::optional<Time> Story::when(NodeId n, std::string_view name, size_t nth, Time after) const {
  for (const auto& e : f_const().trace().events) {
    if (e.node != n || e.time < after || event_name(e.event) != name) continue;
    if (nth-- == 0) return e.time;
  }
  return std::nullopt;
}

size_t Story::count_events(NodeId n, std::string_view name) const {
  size_t k = 0;
  for (const auto& e : f_const().trace().events)
    if (e.node == n && event_name(e.event) == name) ++k;
  return k;
}

std::vector<Time> Story::sent(wire::AttrId attr, NodeId from) const {
  std::vector<Time> out;
  for (const auto& m : f_const().mads_of(attr))
    if (!m.duplicate && (from == kAnyNode || m.from == from)) out.push_back(m.sent);
  return out;
}

void Story::measure(std::string name, std::string from, Time t0, std::string to,
                    std::optional<Time> t1, Time waited, std::string waited_on) {
  if (!check(t1.has_value(), "the run reaches: " + to)) return;
  ScenarioMeasure m;
  m.name = std::move(name);
  m.from = std::move(from);
  m.to = std::move(to);
  m.elapsed = *t1 - t0;
  m.waited = waited;
  m.waited_on = std::move(waited_on);
  m.round_trip = kRoundTrip;
  r_.measure = std::move(m);
}

void reconnect_after_stale(Fabric& f, NodeId n, AutoConsumer c, NodeId to, uint32_t qpn) {
  auto waiting = std::make_shared<std::set<ConnId>>();
  f.set_consumer(n, [c, waiting, to, qpn](Fabric& f, NodeId n, const Event& e) mutable {
    c.handle(f, n, e);
    if (auto* x = std::get_if<ev::RejReceived>(&e)) {
      if (x->rej.reason == wire::RejReason::StaleConnection) waiting->insert(x->conn);
    } else if (auto* x = std::get_if<ev::TimeWaitExit>(&e)) {
      if (waiting->erase(x->conn) == 0) return;
      const uint32_t psn = static_cast<uint32_t>(f.random()) & 0xFFFFFF;
      auto r = f.cm(n).connect(f.now(), make_connect_params(f, n, to, kService, qpn, psn));
      if (!r) f.annotate(n, "reconnect failed: " + std::string(to_string(r.error())));
    }
  });
}

std::optional<ConnId> connected_pair(Story& s, AutoConsumer& server, NodeId to,
                                     AutoConsumer& client, NodeId from,
                                     std::optional<uint32_t> reconnect_qpn) {
  Fabric& f = s.f();
  server.policy().listen = {kService};
  server.attach(f, to);
  client.attach(f, from);
  if (reconnect_qpn) reconnect_after_stale(f, from, client, to, *reconnect_qpn);
  auto c = client.connect(f, from, to, kService);
  f.run_until(1s);
  if (!s.check(c.has_value() && holds_one_established(f, A) && holds_one_established(f, B),
               "A and B are connected"))
    return std::nullopt;
  return *c;
}

std::optional<ConnId> last_established(const Fabric& f, NodeId n) {
  const auto& ev = f.trace().events;
  for (auto it = ev.rbegin(); it != ev.rend(); ++it)
    if (auto* x = std::get_if<ev::Established>(&it->event); x && it->node == n) return x->conn;
  return std::nullopt;
}

bool holds_one_established(Fabric& f, NodeId n) {
  Cm* cm = f.find_cm(n);
  if (!cm || cm->connection_count() != 1) return false;
  const auto c = last_established(f, n);
  return c && cm->state(*c) == State::Established;
}

}  // namespace ibcm::sim::story
