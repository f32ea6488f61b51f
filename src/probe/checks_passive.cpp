// The probe as the passive side: the remote connects to it (its active side, a client started
// against the probe's address), and the probe answers its REQs by hand: a REP whose QP is still
// connected, an MRA and a late REP.
#include <algorithm>

#include "ibcm/wire/time.h"
#include "probe/checks.h"
#include "probe/link.h"

namespace ibcm::probe {

namespace {

// The remote's next REQ (other than the one with comm ID `but`), or why there is none.
std::optional<Got> next_req(Conversation& c, std::string& why, uint32_t but = 0) {
  if (c.options().remote_connect_wait <= Time{0}) {
    why = "the remote's active side was not asked for (no time to wait for it to connect)";
    return std::nullopt;
  }
  auto got = c.wait(remote_req(but), c.options().remote_connect_wait);
  if (!got) why = "the remote did not connect within " + secs(c.options().remote_connect_wait);
  if (got) c.talk_to(got->from);
  return got;
}

// The remote's REQ with comm ID `id` (its retries).
Want same_req(uint32_t id) {
  return [id](const wire::Mad& m) {
    const auto* r = std::get_if<wire::Req>(&m.message);
    return r && r->local_comm_id == id;
  };
}

// When the remote sends its REQ again, at the latest, if nothing answers it: after 2 packet
// lifetimes and the CM response time it gives us (its LocalACKTimeout covers about two
// lifetimes), and a margin for a slow host.
Time retry_due(const wire::Req& r) {
  return wire::cm_time(r.remote_cm_response_timeout) + wire::cm_time(r.primary.local_ack_timeout) +
         std::chrono::milliseconds(500);
}

// Refuses the remote's REQ (REJ 28 from our comm ID `ours`): its attempt ends.
void refuse(Conversation& c, uint32_t ours, const Got& req) {
  c.send(consumer_rej(ours, std::get<wire::Req>(req.mad.message).local_comm_id, wire::MsgRef::Req),
         req.mad.header.transaction_id);
}

// Our REP (comm ID `ours`, a new one if 0) to the remote's REQ, and its RTU: the connection, or
// nullopt (its answer in `why`).
std::optional<Link> accept_req(Conversation& c, const Got& req, uint32_t qpn, std::string& why,
                               uint32_t ours = 0) {
  const auto& r = std::get<wire::Req>(req.mad.message);
  Link l{ours != 0 ? ours : c.new_comm_id(), r.local_comm_id, qpn, r.local_qpn,
         req.mad.header.transaction_id};
  c.send(c.rep(r, l.ours, qpn), l.tid);
  auto rtu_or_rej = [rtu = to_us<wire::Rtu>(l.ours), rej = to_us<wire::Rej>(l.ours)](
                        const wire::Mad& m) { return rtu(m) || rej(m); };
  auto got = c.wait(rtu_or_rej, c.options().answer_wait);
  if (got && std::holds_alternative<wire::Rtu>(got->mad.message)) return l;
  why = got ? describe(got->mad) + " to our REP" : "no RTU to our REP";
  if (!got) c.send(timeout_rej(c, l.ours, l.theirs, wire::MsgRef::Rep), l.tid);
  return std::nullopt;
}

}  // namespace

Outcome check_stale_rep(Conversation& c) {
  std::string why;
  auto first = next_req(c, why);
  if (!first) return not_applicable(why);
  const uint32_t qpn = c.new_qpn();
  auto old = accept_req(c, *first, qpn, why);
  if (!old) return not_applicable("no connection to stand on: " + why);
  // While that connection stands, the remote's next REQ gets a REP from the same QP (and CA
  // GUID), as from a peer that rebooted and forgot it.
  auto second = next_req(c, why, old->theirs);
  if (!second) {
    Outcome o = not_applicable(why + " a second time while the first connection stood");
    if (!close_link(c, *old)) o.left_open = 1;
    return o;
  }
  const auto& req2 = std::get<wire::Req>(second->mad.message);
  const uint32_t ours = c.new_comm_id();
  Time rep_at = c.now();
  c.send(c.rep(req2, ours, qpn), second->mad.header.transaction_id);
  auto answer = c.wait([rej = to_us<wire::Rej>(ours), rtu = to_us<wire::Rtu>(ours)](
                           const wire::Mad& m) { return rej(m) || rtu(m); },
                       c.options().answer_wait);
  auto dreq = c.wait(to_us<wire::Dreq>(old->ours), answer ? c.options().answer_wait : Time{0});
  std::string seen = "REP from the connected QP at " + secs(rep_at) + ": ";
  seen += answer ? describe(answer->mad) + " at " + secs(answer->at) : "no answer";
  seen += dreq ? ", DREQ for the old connection at " + secs(dreq->at)
               : ", no DREQ for the old connection";
  const auto* rej = answer ? std::get_if<wire::Rej>(&answer->mad.message) : nullptr;
  const bool rej10 = rej && rej->reason == wire::RejReason::StaleConnection &&
                     rej->message_rejected == wire::MsgRef::Rep;
  const bool right_qpn = dreq && std::get<wire::Dreq>(dreq->mad.message).remote_qpn == qpn;
  if (dreq && !right_qpn) seen += " naming another QPN";
  // Its own attempt is over with the REJ 10 it sent: no REQ retry when one would be due. Copies
  // it sent before it had our REP come before its answer (or soon after our REP), not after.
  std::optional<Got> retry;
  const Time quiet_until = rep_at + retry_due(req2);
  const Time crossed_by = answer ? answer->at : rep_at + retry_due(req2) / 4;
  for (Got& g : c.gather(same_req(req2.local_comm_id), std::max(quiet_until - c.now(), Time{0})))
    if (g.at > crossed_by && !retry) retry = std::move(g);
  if (retry) {
    seen += ", and its REQ again at " + secs(retry->at);
  } else if (rej10) {
    seen += "; no REQ retry by " + secs(quiet_until);
  }
  Outcome o = rej10 && right_qpn && !retry ? pass(seen) : deviation(seen);
  if (answer && std::holds_alternative<wire::Rtu>(answer->mad.message)) {
    // A second connection on one QP: end it.
    Link l2{ours, req2.local_comm_id, qpn, req2.local_qpn, second->mad.header.transaction_id};
    if (!close_link(c, l2)) ++o.left_open;
  } else if (!rej10 || retry) {
    refuse(c, ours, *second);  // its attempt is still on: end it
  }
  if (dreq) {
    answer_dreq(c, dreq->mad);
  } else if (!close_link(c, *old)) {
    ++o.left_open;
  }
  return o;
}

Outcome check_mra_req(Conversation& c) {
  std::string why;
  auto req = next_req(c, why);
  if (!req) return not_applicable(why);
  const auto& r = std::get<wire::Req>(req->mad.message);
  // Our REP comes when the REQ's retry is due: a remote that ignored the MRA would have retried
  // (or given up) by then.
  const Time retry_at = retry_due(r);
  const Time rep_delay = std::max(retry_at, c.options().answer_wait);
  // The MRA's service time: twice the delay, rounded up to the next power of two.
  uint8_t service_timeout = 0;
  while (service_timeout < 31 && wire::cm_time(service_timeout) < 2 * rep_delay) ++service_timeout;
  const uint32_t ours = c.new_comm_id();
  wire::Mra mra;
  mra.local_comm_id = ours;
  mra.remote_comm_id = r.local_comm_id;
  mra.message_mraed = wire::MsgRef::Req;
  mra.service_timeout = service_timeout;
  Time mra_at = c.now();
  c.send(mra, req->mad.header.transaction_id);
  // Whatever the remote says about this REQ meanwhile: its retry, or a REJ (it gave up). Copies
  // it sent before it had our MRA (before it, or crossing it: within a quarter of its retry
  // interval) do not count.
  std::vector<Got> again;
  for (Got& g : c.gather([req_again = same_req(r.local_comm_id), rej = to_us<wire::Rej>(ours)](
                             const wire::Mad& m) { return req_again(m) || rej(m); },
                         rep_delay))
    if (!std::holds_alternative<wire::Req>(g.mad.message) || g.at >= mra_at + retry_at / 4)
      again.push_back(std::move(g));
  std::string seen =
      "MRA (service timeout " + std::to_string(service_timeout) + ") at " + secs(mra_at) + "; ";
  std::string meanwhile;
  for (const Got& g : again) {
    meanwhile += meanwhile.empty() ? "" : ", ";
    meanwhile += describe(g.mad) + " at " + secs(g.at);
  }
  seen += meanwhile.empty() ? "nothing" : meanwhile;
  seen += " in the next " + secs(rep_delay) + " (the REQ's retry due after " + secs(retry_at) + ")";
  std::string failed;
  auto l = accept_req(c, *req, c.new_qpn(), failed, ours);
  seen += l ? "; REP, then RTU" : "; REP, then " + failed;
  Outcome o = again.empty() && l ? pass(seen) : deviation(seen);
  if (l && !close_link(c, *l)) o.left_open = 1;
  return o;
}

}  // namespace ibcm::probe
