// What the scenario scripts share: a two-node fabric with fixed latency and no jitter (so every
// time in a run is exact), rdma_cm's timeouts, and lookups into the finished trace.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "ibcm/sim/consumer.h"
#include "ibcm/sim/scenario.h"
#include "ibcm/wire/time.h"

namespace ibcm::sim::story {

using namespace std::chrono_literals;

constexpr NodeId A = 0, B = 1;
constexpr uint64_t kService = 0x0000000001060000ull | 7174;  // rdma_cm TCP port 7174
constexpr Time kLatency = 5us;
constexpr Time kRoundTrip = 2 * kLatency;
// make_connect_params: PacketLifeTime 16, RemoteCMResponseTimeout 20, PrimaryLocalACKTimeout 17.
constexpr Time kRetryInterval = 2 * wire::cm_time(16) + wire::cm_time(20);
constexpr Time kTimewait = wire::cm_time(17);
constexpr Time kRunLimit = 3600s;

class Story {
 public:
  Story(std::string_view name, std::string_view title, uint64_t seed);

  Fabric& f() { return *r_.fabric; }
  ScenarioReport& report() { return r_; }
  bool check(bool ok, std::string what) { return r_.check(ok, std::move(what)); }
  // Runs to idle (bounded) and records how the run stopped.
  void run();
  ScenarioReport finish() { return std::move(r_); }

  // When node n had its nth event called `name` at or after `after`.
  std::optional<Time> when(NodeId n, std::string_view name, size_t nth = 0, Time after = 0s) const;
  size_t count_events(NodeId n, std::string_view name) const;
  // Send times of the MAD copies of this type from node `from` (any node when kAnyNode).
  std::vector<Time> sent(wire::AttrId attr, NodeId from = kAnyNode) const;
  // The decoded MAD of the nth copy of this type (from any node).
  template <class M>
  std::optional<M> nth(wire::AttrId attr, size_t i) const {
    const auto m = f_const().mads_of(attr);
    if (i >= m.size()) return std::nullopt;
    auto d = wire::decode(m[i].bytes);
    if (!d) return std::nullopt;
    if (auto* x = std::get_if<M>(&d->message)) return *x;
    return std::nullopt;
  }
  void measure(std::string name, std::string from, Time t0, std::string to, std::optional<Time> t1,
               Time waited = 0s, std::string waited_on = {});

 private:
  const Fabric& f_const() const { return *r_.fabric; }
  ScenarioReport r_;
};

// A consumer that answers like AutoConsumer and, when a connection attempt of its node got
// REJ 10, connects again from the same QP once that attempt's TIMEWAIT is over.
void reconnect_after_stale(Fabric& f, NodeId n, AutoConsumer c, NodeId to, uint32_t qpn);

// `server` on node `to` listens on kService and `client` on node `from` connects to it; the fabric
// runs a second. With `reconnect_qpn`, the client's node connects again from that QPN after a
// REJ 10 (reconnect_after_stale). Returns the client's connection if both sides then hold one
// ESTABLISHED connection (checked: "A and B are connected"), else nullopt.
std::optional<ConnId> connected_pair(Story& s, AutoConsumer& server, NodeId to,
                                     AutoConsumer& client, NodeId from,
                                     std::optional<uint32_t> reconnect_qpn = std::nullopt);

// The connection of node n's most recent `established` event.
std::optional<ConnId> last_established(const Fabric& f, NodeId n);
// Node n's most recently established connection is still ESTABLISHED and is its only one.
bool holds_one_established(Fabric& f, NodeId n);

// The scenarios (scenario_list.cpp names them).
ScenarioReport stale_reboot(uint64_t seed);
ScenarioReport dreq_lost_then_req(uint64_t seed);
ScenarioReport dreq_unanswered(uint64_t seed);
ScenarioReport drep_lost(uint64_t seed);
ScenarioReport both_disconnect(uint64_t seed);
ScenarioReport lost_req(uint64_t seed);
ScenarioReport lost_rep(uint64_t seed);
ScenarioReport lost_rtu(uint64_t seed);
ScenarioReport slow_passive_mra(uint64_t seed);
ScenarioReport no_listener(uint64_t seed);
ScenarioReport peer_to_peer(uint64_t seed);

}  // namespace ibcm::sim::story
