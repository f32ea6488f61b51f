// Identifiers reused on a live connection (its comm ID, its REQ's TID) and a LAP on one.
#include "ibcm/wire/time.h"
#include "probe/checks.h"
#include "probe/link.h"

namespace ibcm::probe {

namespace {

// Ends the check's connection: a remote that still answers its DREQ kept it.
void end_link(Conversation& c, const Link& l, Outcome& o, std::string_view what = "") {
  if (close_link(c, l)) return;
  o.seen += "; ";
  o.seen += what.empty() ? "the connection's DREQ got no DREP" : what;
  ++o.left_open;
}

}  // namespace

Outcome check_reused_comm_id(Conversation& c) {
  std::string why;
  auto l = open_link(c, why);
  if (!l) return not_applicable("no connection to stand on: " + why);
  // A new REQ (another QP, a new TID) under the comm ID of the live connection: not its retry.
  c.send(c.req(l->ours, c.new_qpn()), c.new_tid());
  auto got = c.wait(answers_req(l->ours), c.options().answer_wait);
  std::string seen = "to a REQ from another QP under the live connection's comm ID: ";
  seen += got ? describe(got->mad) + " at " + secs(got->at) : std::string("nothing");
  const auto* rej = got ? std::get_if<wire::Rej>(&got->mad.message) : nullptr;
  const bool rej30 = rej && rej->reason == wire::RejReason::DuplicateLocalCommId;
  Outcome o = rej30 ? pass(seen) : deviation(seen);
  if (got && std::holds_alternative<wire::Rep>(got->mad.message) &&
      std::get<wire::Rep>(got->mad.message).local_comm_id != l->theirs) {
    o = deviation(seen + " (a second connection)");
    reject_rep(c, l->ours, *got);
  }
  if (!close_link(c, *l)) {
    o = deviation(o.seen + "; the live connection's DREQ then got no DREP");
    o.left_open = 1;
  }
  return o;
}

Outcome check_reused_tid(Conversation& c) {
  std::string why;
  auto l = open_link(c, why);
  if (!l) return not_applicable("no connection to stand on: " + why);
  // A new connection (new comm ID, new QP) whose REQ carries the live one's TID: TIDs only pair
  // a reply with its request, they name no connection.
  uint32_t id = c.new_comm_id();
  uint32_t qpn = c.new_qpn();
  c.send(c.req(id, qpn), l->tid);
  auto got = c.wait(answers_req(id), c.options().answer_wait);
  std::string seen = "to a new REQ with the live connection's TID: ";
  seen += got ? describe(got->mad) + " at " + secs(got->at) : std::string("nothing");
  const bool rep = got && std::holds_alternative<wire::Rep>(got->mad.message);
  Outcome o = rep ? pass(seen) : deviation(seen);
  if (rep) end_link(c, accept_rep(c, id, qpn, *got), o, "the new connection's DREQ got no DREP");
  end_link(c, *l, o);
  if (o.left_open > 0) o.verdict = Verdict::Deviation;
  return o;
}

Outcome check_lap(Conversation& c) {
  std::string why;
  auto l = open_link(c, why);
  if (!l) return not_applicable("no connection to stand on: " + why);
  // An alternate path between the same two ports (another flow label): all a RoCE or a
  // single-port CA can offer, and a path the remote can check like any other.
  wire::Lap lap;
  lap.local_comm_id = l->ours;
  lap.remote_comm_id = l->theirs;
  lap.remote_qpn = l->their_qpn;
  lap.remote_cm_response_timeout = kOurResponseTimeout;
  lap.alternate = c.req(l->ours, l->qpn).primary;
  lap.alternate.flow_label ^= 0x1;
  c.send(lap, c.new_tid());
  auto answer = [apr = to_us<wire::Apr>(l->ours), rej = to_us<wire::Rej>(l->ours),
                 mra = to_us<wire::Mra>(l->ours)](const wire::Mad& m) {
    return apr(m) || rej(m) || mra(m);
  };
  std::string seen;
  Time limit = c.options().answer_wait;
  std::optional<Got> got;
  while ((got = c.wait(answer, limit))) {
    if (!seen.empty()) seen += ", ";
    seen += describe(got->mad) + " at " + secs(got->at);
    const auto* mra = std::get_if<wire::Mra>(&got->mad.message);
    if (!mra) break;
    limit = wire::cm_time(mra->service_timeout) + c.options().answer_wait;  // more time asked
  }
  if (seen.empty()) seen = "nothing within " + secs(limit);
  const auto* rej = got ? std::get_if<wire::Rej>(&got->mad.message) : nullptr;
  const bool answered = got && (std::holds_alternative<wire::Apr>(got->mad.message) ||
                                (rej && rej->message_rejected == wire::MsgRef::Other));
  Outcome o = answered ? pass(seen) : deviation(seen);
  if (!close_link(c, *l)) {
    o = deviation(o.seen + "; then the connection's DREQ got no DREP");
    o.left_open = 1;
  }
  return o;
}

}  // namespace ibcm::probe
