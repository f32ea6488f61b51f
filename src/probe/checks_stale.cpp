// Stale connections: a REQ from a QP the remote still holds a connection with, and a REJ that
// gives an established connection up.
#include <functional>

#include "probe/checks.h"
#include "probe/link.h"

namespace ibcm::probe {

namespace {

// A REQ from `qpn` under a new comm ID, while the remote holds `old` from that QP (and our CA
// GUID): its answer and the DREQ for the old connection are judged; whatever is left is ended.
Outcome stale_req(Conversation& c, uint32_t old_ours, uint32_t qpn,
                  const std::function<bool()>& end_old) {
  uint32_t id = c.new_comm_id();
  c.send(c.req(id, qpn), c.new_tid());
  auto answer = c.wait(answers_req(id), c.options().answer_wait);
  auto dreq = c.wait(to_us<wire::Dreq>(old_ours), answer ? c.options().answer_wait : Time{0});
  std::string seen = answer ? describe(answer->mad) + " at " + secs(answer->at) : "no answer";
  seen += dreq ? ", DREQ for the old connection at " + secs(dreq->at)
               : ", no DREQ for the old connection";
  const auto* rej = answer ? std::get_if<wire::Rej>(&answer->mad.message) : nullptr;
  const bool rej10 = rej && rej->reason == wire::RejReason::StaleConnection;
  const bool right_qpn = dreq && std::get<wire::Dreq>(dreq->mad.message).remote_qpn == qpn;
  if (dreq && !right_qpn) seen += " naming another QPN";
  Outcome o = rej10 && right_qpn ? pass(seen) : deviation(seen);
  if (answer && std::holds_alternative<wire::Rep>(answer->mad.message)) {
    // A second connection from the same QP: end it too.
    if (!close_link(c, accept_rep(c, id, qpn, *answer))) ++o.left_open;
  }
  if (dreq) {
    answer_dreq(c, dreq->mad);
  } else if (!end_old()) {
    ++o.left_open;
  }
  return o;
}

}  // namespace

Outcome check_stale_req(Conversation& c) {
  std::string why;
  auto old = open_link(c, why);
  if (!old) return not_applicable("no connection to stand on: " + why);
  // As after a reboot: the same QP and CA GUID, a new communication ID.
  return stale_req(c, old->ours, old->qpn, [&] { return close_link(c, *old); });
}

Outcome check_stale_req_half_open(Conversation& c) {
  // The old connection's REP is never answered: our REQ asks 1.07 s of the remote for each try
  // (2^18), so that it is still REP_SENT when the stale REQ comes.
  constexpr uint8_t kSlowAnswer = 18;
  uint32_t old = c.new_comm_id();
  uint32_t qpn = c.new_qpn();
  c.send(c.req(old, qpn, kSlowAnswer), c.new_tid());
  auto rep = c.wait(to_us<wire::Rep>(old), c.options().answer_wait);
  if (!rep) return not_applicable("no REP to stand on (" + c.strays() + ")");
  uint32_t theirs = std::get<wire::Rep>(rep->mad.message).local_comm_id;
  return stale_req(c, old, qpn, [&] {
    c.send(timeout_rej(c, old, theirs, wire::MsgRef::Rep), rep->mad.header.transaction_id);
    return true;
  });
}

Outcome check_rej_established(Conversation& c) {
  std::string why;
  auto l = open_link(c, why);
  if (!l) return not_applicable("no connection to stand on: " + why);
  // As from a peer whose REP timed out (our RTU lost): it has given the connection up.
  c.send(timeout_rej(c, l->ours, l->theirs, wire::MsgRef::Rep), c.new_tid());
  // A REQ from the same QP: a remote that gave the connection up answers REP (or REJ 10 while it
  // keeps the QPN through TIMEWAIT), one that still holds it REJ 10 and a DREQ for it.
  uint32_t id = c.new_comm_id();
  c.send(c.req(id, l->qpn), c.new_tid());
  auto answer = c.wait(answers_req(id), c.options().answer_wait);
  auto dreq = c.wait(to_us<wire::Dreq>(l->ours), answer ? c.options().answer_wait : Time{0});
  std::string seen = "REJ(4) sent; the next REQ from its QP: ";
  seen += answer ? describe(answer->mad) + " at " + secs(answer->at) : "no answer";
  if (dreq) seen += ", and a DREQ for the connection at " + secs(dreq->at);
  Outcome o = answer && !dreq ? pass(seen) : deviation(seen);
  if (answer && std::holds_alternative<wire::Rep>(answer->mad.message)) {
    if (!close_link(c, accept_rep(c, id, l->qpn, *answer))) ++o.left_open;
  }
  if (dreq) answer_dreq(c, dreq->mad);
  return o;
}

}  // namespace ibcm::probe
