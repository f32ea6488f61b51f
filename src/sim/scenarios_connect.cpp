// Connection establishment under faults: lost REQ, REP and RTU, a slow passive side, no
// listener, and peer-to-peer.
#include <algorithm>
#include <array>

#include "sim/story.h"

namespace ibcm::sim::story {

namespace {

struct Handshake {
  AutoConsumer server, client;
  std::optional<ConnId> conn;
};

// B listens (with `policy`), A connects at time 0 after `rule` is installed.
Handshake start(Story& s, AutoPolicy policy, std::optional<FaultRule> rule) {
  Handshake h;
  Fabric& f = s.f();
  policy.listen = {kService};
  h.server = AutoConsumer(policy);
  h.server.attach(f, B);
  h.client.attach(f, A);
  if (rule) f.add_rule(*rule);
  auto c = h.client.connect(f, A, B, kService);
  if (c) h.conn = *c;
  s.run();
  return h;
}

void check_connected(Story& s) {
  s.check(holds_one_established(s.f(), A) && holds_one_established(s.f(), B),
          "A and B end ESTABLISHED, one connection each");
}

// Whether a message went out twice, the copy one retry interval after the first.
bool retried_once(const std::vector<Time>& sent) {
  return sent.size() == 2 && sent[1] - sent[0] == kRetryInterval;
}

// A handshake from A's REQ at 0 ends with A and B connected: the report, its setup time to B's
// `established` of which `waited` went on `waited_on`.
ScenarioReport connected(Story& s, std::string from, Time waited, std::string waited_on) {
  check_connected(s);
  s.measure("setup", std::move(from), 0s, "B established", s.when(B, "established"), waited,
            std::move(waited_on));
  return s.finish();
}

}  // namespace

// Scenario 4b. The REQ is lost once: A sends it again one retry interval later.
ScenarioReport lost_req(uint64_t seed) {
  Story s("lost-req", "the first REQ is lost", seed);
  start(s, {}, drop_next(wire::AttrId::Req, A, B));
  s.check(retried_once(s.sent(wire::AttrId::Req, A)),
          "A sends the REQ again 4.831838208 s later (2 x 2^16 + 2^20 x 4.096 us)");
  s.check(s.sent(wire::AttrId::Rep, B).size() == 1 && s.sent(wire::AttrId::Rtu, A).size() == 1,
          "one REP, one RTU");
  return connected(s, "A's first REQ", kRetryInterval, "the REQ retry interval");
}

// Scenario 4c. The REP is lost once. A's REQ retry meets a B in REP_SENT, which drops it as a
// duplicate; B's own REP retry (one interval after its REP) completes the handshake.
ScenarioReport lost_rep(uint64_t seed) {
  Story s("lost-rep", "the first REP is lost", seed);
  start(s, {}, drop_next(wire::AttrId::Rep, B, A));
  s.check(retried_once(s.sent(wire::AttrId::Rep, B)), "B sends the REP again 4.831838208 s later");
  s.check(s.f().cm(B).counters().of(CountedMsg::Req).rx_duplicates ==
              s.sent(wire::AttrId::Req, A).size() - 1,
          "B counts A's REQ retries as duplicates and starts nothing new");
  s.check(s.sent(wire::AttrId::Rtu, A).size() == 1, "A answers the REP that arrives with RTU");
  return connected(s, "A's first REQ", kRetryInterval, "the REP retry interval");
}

// Scenario 4d. The RTU is lost once: A is ESTABLISHED, B in REP_SENT retries the REP; A answers
// the duplicate REP with the RTU again.
ScenarioReport lost_rtu(uint64_t seed) {
  Story s("lost-rtu", "the first RTU is lost", seed);
  start(s, {}, drop_next(wire::AttrId::Rtu, A, B));
  const auto reps = s.sent(wire::AttrId::Rep, B);
  s.check(retried_once(reps), "B sends the REP again 4.831838208 s later");
  s.check(s.sent(wire::AttrId::Rtu, A).size() == 2 &&
              s.f().cm(A).counters().of(CountedMsg::Rep).rx_duplicates == 1,
          "A counts the duplicate REP and sends the RTU again");
  s.check(s.when(A, "established") == 2 * kLatency, "A is ESTABLISHED as soon as it sends RTU");
  s.check(s.when(B, "established") == reps.back() + kRoundTrip,
          "B is ESTABLISHED one round trip after its REP retry");
  return connected(s, "A's REQ", kRetryInterval, "the REP retry interval");
}

// Scenario 4e. B takes 10 s to accept, two REQ retry intervals. It sends MRA at once (service
// timeout 2^22 x 4.096 us = 17.2 s), so A stops retrying and waits.
ScenarioReport slow_passive_mra(uint64_t seed) {
  Story s("slow-passive-mra", "B needs 10 s to accept and asks for time with MRA", seed);
  AutoPolicy p;
  p.on_req = AutoPolicy::OnReq::MraThenAccept;
  p.mra_service_timeout = 22;
  p.accept_delay = 10s;
  start(s, p, std::nullopt);
  s.check(s.sent(wire::AttrId::Mra, B).size() == 1 && s.count_events(A, "mra_received") == 1,
          "B sends one MRA; A's consumer gets mra_received");
  s.check(s.sent(wire::AttrId::Req, A).size() == 1,
          "A sends no REQ retry while the MRA's wait runs (no retry at 4.8 s or 9.7 s)");
  const auto reps = s.sent(wire::AttrId::Rep, B);
  s.check(reps.size() == 1 && reps[0] == kLatency + 10s, "B's REP goes out 10 s after the REQ");
  s.check(s.count_events(A, "req_timeout") == 0, "no REQ timeout");
  return connected(s, "A's REQ", 10s, "B's consumer");
}

// Scenario 4f. Nobody listens on the service: REJ 8 (invalid service ID) at once, no retries.
ScenarioReport no_listener(uint64_t seed) {
  Story s("no-listener", "a REQ for a service nobody listens on", seed);
  Fabric& f = s.f();
  AutoConsumer client;
  client.attach(f, A);
  client.connect(f, A, B, kService);
  s.run();
  const auto rej = s.nth<wire::Rej>(wire::AttrId::Rej, 0);
  s.check(rej && rej->reason == wire::RejReason::InvalidServiceId &&
              rej->message_rejected == wire::MsgRef::Req,
          "B answers REJ 8 (invalid service ID)");
  s.check(s.when(A, "rej_received") == kRoundTrip,
          "A's consumer gets rej_received one round trip later");
  s.check(s.sent(wire::AttrId::Req, A).size() == 1, "A does not retry");
  s.check(f.cm(A).connection_count() == 0 && f.cm(B).connection_count() == 0,
          "neither side keeps a connection");
  s.measure("setup", "A's REQ", 0s, "A's rej_received", s.when(A, "rej_received"));
  return s.finish();
}

// Scenario 4g. Both sides connect peer-to-peer at the same instant. The REQs cross; B has the
// larger CA GUID, so it stays active and A's connection turns passive and accepts.
ScenarioReport peer_to_peer(uint64_t seed) {
  Story s("peer-to-peer", "A and B send peer-to-peer REQs to each other at the same moment", seed);
  Fabric& f = s.f();
  const std::array<uint32_t, 2> qpn{0x100, 0x200};
  for (NodeId n : {A, B}) {
    f.set_consumer(n, [qpn](Fabric& f, NodeId n, const Event& e) {
      if (auto* x = std::get_if<ev::ReqReceived>(&e)) {
        AcceptParams ap;
        ap.qpn = qpn[n];  // the QP this side named in its own REQ
        ap.psn = static_cast<uint32_t>(f.random()) & 0xFFFFFF;
        if (!f.cm(n).accept(f.now(), x->conn, ap)) f.annotate(n, "accept failed");
      } else if (auto* x = std::get_if<ev::RepReceived>(&e)) {
        if (!f.cm(n).send_rtu(f.now(), x->conn)) f.annotate(n, "send_rtu failed");
      }
    });
  }
  bool ok = true;
  for (NodeId n : {A, B}) {
    ConnectParams p = make_connect_params(f, n, 1 - n, kService, qpn[n], 0x1000 + n);
    p.peer_to_peer = true;
    ok = f.cm(n).connect(f.now(), p).has_value() && ok;
  }
  s.check(ok, "A and B connect peer-to-peer");
  s.run();
  s.check(s.sent(wire::AttrId::Req, A).size() == 1 && s.sent(wire::AttrId::Req, B).size() == 1,
          "one REQ each way");
  s.check(s.f().cm(B).counters().drop(Drop::PeerToPeerLost) == 1,
          "B (larger CA GUID) drops A's REQ and stays active");
  const auto req = std::find_if(f.trace().events.begin(), f.trace().events.end(), [](auto& e) {
    auto* x = std::get_if<ev::ReqReceived>(&e.event);
    return e.node == A && x && x->peer_to_peer;
  });
  s.check(req != f.trace().events.end(),
          "A's connection turns passive (req_received, peer_to_peer)");
  s.check(s.sent(wire::AttrId::Rep, A).size() == 1 && s.sent(wire::AttrId::Rtu, B).size() == 1,
          "A answers with REP, B with RTU");
  check_connected(s);
  s.measure("setup", "the REQs", 0s, "A established", s.when(A, "established"));
  return s.finish();
}

}  // namespace ibcm::sim::story
