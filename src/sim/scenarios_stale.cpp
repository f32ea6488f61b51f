// Stale connections: one side has forgotten a connection the other still holds.
#include "sim/story.h"

namespace ibcm::sim::story {

namespace {
constexpr uint32_t kQpn = 0x100;  // AutoConsumer's first QPN, handed out again after a reboot
}

// Scenario 1. B connects to A, then reboots: it has lost every record of the connection but its
// HCA hands out QPN 0x100 again. B's REQ names a (QPN, CA GUID) that A still holds: A answers REJ
// 10 and sends DREQ for the old connection; B answers DREP for a connection it does not know;
// after its TIMEWAIT, B connects again and succeeds.
ScenarioReport stale_reboot(uint64_t seed) {
  Story s("stale-reboot", "B reboots while connected and reconnects to A from the same QPN", seed);
  Fabric& f = s.f();
  AutoConsumer server, client;
  if (!connected_pair(s, server, A, client, B, kQpn)) return s.finish();

  f.reboot(B);
  const Time t_req = f.now();
  client.connect(f, B, A, kService);
  s.run();

  const auto req0 = s.nth<wire::Req>(wire::AttrId::Req, 0);
  const auto req1 = s.nth<wire::Req>(wire::AttrId::Req, 1);
  s.check(req0 && req1 && req0->local_qpn == kQpn && req1->local_qpn == kQpn &&
              req0->local_ca_guid == req1->local_ca_guid,
          "rebooted B reuses QPN 0x100 and its CA GUID");
  const auto rej = s.nth<wire::Rej>(wire::AttrId::Rej, 0);
  s.check(rej && rej->reason == wire::RejReason::StaleConnection &&
              rej->message_rejected == wire::MsgRef::Req && req1 &&
              rej->remote_comm_id == req1->local_comm_id,
          "A rejects B's new REQ with REJ 10 (stale connection)");
  const auto dreq = s.nth<wire::Dreq>(wire::AttrId::Dreq, 0);
  s.check(dreq && dreq->remote_qpn == kQpn && s.sent(wire::AttrId::Dreq, A).size() == 1,
          "A sends one DREQ for the old connection, RemoteQPN 0x100");
  s.check(s.sent(wire::AttrId::Drep, B).size() == 1,
          "B answers the DREQ for a connection it does not know with DREP");
  s.check(s.count_events(A, "stale_connection") == 1, "A's consumer is told: stale_connection");
  const auto b_rej = s.when(B, "rej_received");
  const auto b_tw = s.when(B, "timewait_exit");
  s.check(b_rej && b_tw && *b_tw - *b_rej == kTimewait,
          "B waits out TIMEWAIT (536.870912 ms) after the REJ 10");
  s.check(s.sent(wire::AttrId::Req, B).size() == 3 && s.when(B, "established", 1).has_value(),
          "B's retry after TIMEWAIT is accepted");
  s.check(holds_one_established(f, A) && holds_one_established(f, B),
          "A and B end with exactly one ESTABLISHED connection each");
  s.measure("recovery", "B's first REQ after the reboot", t_req, "B established again",
            s.when(B, "established", 1), b_rej && b_tw ? *b_tw - *b_rej : 0s, "TIMEWAIT");
  return s.finish();
}

// Scenario 3. A disconnects while every DREQ it sends is lost: it times out into TIMEWAIT and
// forgets the connection, which B still holds. Later A connects again from the same QP: B finds
// the QPN in the old connection, answers REJ 10 and sends DREQ for it; A answers DREP; A's retry
// after its TIMEWAIT succeeds. The REQ comes from A, the side whose DREQ was lost: it is the one
// that has forgotten the connection and may reuse the QP. B, still holding the connection, cannot
// send a REQ from its QP (its CM refuses a connect on a QPN in use); the stale REQ from B's side
// after B lost its state is scenario 1.
ScenarioReport dreq_lost_then_req(uint64_t seed) {
  Story s("dreq-lost-then-req",
          "A's DREQs are lost; A later connects again from the same QP while B still holds the old "
          "connection",
          seed);
  Fabric& f = s.f();
  AutoConsumer server, client;
  if (!connected_pair(s, server, B, client, A, kQpn)) return s.finish();

  const uint32_t kAll = 16;  // the first DREQ and its 15 retries
  f.add_rule(drop_next(wire::AttrId::Dreq, A, B, kAll));
  const ConnId old = last_established(f, A).value_or(0);
  const Time t_disc = f.now();
  s.check(f.cm(A).disconnect(f.now(), old).has_value(), "A disconnects");
  f.run_until_idle(f.now() + kRunLimit);
  s.check(s.when(A, "dreq_timeout") == t_disc + 16 * kRetryInterval,
          "A's DREQ times out after 15 retries (16 x 4.831838208 s)");
  s.check(s.when(A, "timewait_exit") == t_disc + 16 * kRetryInterval + kTimewait,
          "A leaves TIMEWAIT 536.870912 ms later and forgets the connection");
  s.check(holds_one_established(f, B), "B still holds the old connection (it never got a DREQ)");

  f.run_until(f.now() + 1s);
  const Time t_req = f.now();
  const uint32_t psn = static_cast<uint32_t>(f.random()) & 0xFFFFFF;
  s.check(f.cm(A).connect(f.now(), make_connect_params(f, A, B, kService, kQpn, psn)).has_value(),
          "A connects again from QPN 0x100");
  s.run();

  const auto rej = s.nth<wire::Rej>(wire::AttrId::Rej, 0);
  s.check(rej && rej->reason == wire::RejReason::StaleConnection, "B answers REJ 10");
  const auto dreq = s.nth<wire::Dreq>(wire::AttrId::Dreq, kAll);
  s.check(dreq && dreq->remote_qpn == kQpn && s.sent(wire::AttrId::Dreq, B).size() == 1,
          "B sends DREQ for the old connection, RemoteQPN 0x100");
  s.check(s.sent(wire::AttrId::Drep, A).size() == 1, "A answers with DREP");
  s.check(s.count_events(B, "stale_connection") == 1 && s.count_events(B, "drep_received") == 1,
          "B's consumer sees stale_connection, then drep_received");
  s.check(holds_one_established(f, A) && holds_one_established(f, B),
          "A's retry after TIMEWAIT connects; one ESTABLISHED connection each");
  const auto a_rej = s.when(A, "rej_received");
  const auto a_tw = s.when(A, "timewait_exit", 0, t_req);
  s.measure("recovery", "A's new REQ", t_req, "A established again", s.when(A, "established", 1),
            a_rej && a_tw ? *a_tw - *a_rej : 0s, "TIMEWAIT");
  return s.finish();
}

}  // namespace ibcm::sim::story
