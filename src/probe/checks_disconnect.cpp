// Disconnects: a DREQ for a connection the remote does not know, and the remote's own DREQ left
// unanswered.
#include "probe/checks.h"
#include "probe/link.h"

namespace ibcm::probe {

Outcome check_dreq_unknown(Conversation& c) {
  // As from a peer that rebooted away from a connection the remote forgot long ago.
  wire::Dreq dreq;
  dreq.local_comm_id = c.new_comm_id();
  dreq.remote_comm_id = c.new_comm_id();
  dreq.remote_qpn = c.new_qpn();
  c.send(dreq, c.new_tid());
  auto drep = c.wait(to_us<wire::Drep>(dreq.local_comm_id), c.options().answer_wait);
  if (!drep) return deviation("no DREP within " + secs(c.options().answer_wait));
  const auto& d = std::get<wire::Drep>(drep->mad.message);
  std::string seen = "DREP at " + secs(drep->at);
  if (d.local_comm_id != dreq.remote_comm_id) return deviation(seen + " with another comm ID");
  return pass(seen);
}

Outcome check_dreq_unanswered(Conversation& c) {
  std::string why;
  auto l = open_link(c, why);
  if (!l) return not_applicable("no connection to stand on: " + why);
  auto first = c.wait(to_us<wire::Dreq>(l->ours), c.options().remote_disconnect_wait);
  if (!first) {
    Outcome o = not_applicable("the remote did not disconnect on its own within " +
                               secs(c.options().remote_disconnect_wait));
    if (!close_link(c, *l)) o.left_open = 1;
    return o;
  }
  // Never answered: the remote sends it again, at most kOurMaxRetries times, then must give up
  // into TIMEWAIT (where it no longer holds our QP: a new REQ from it is a new connection).
  std::vector<Got> retries;
  while (auto again = c.wait(to_us<wire::Dreq>(l->ours), 2 * one_try(c))) retries.push_back(*again);
  std::string seen = "DREQ at " + secs(first->at) + ", " + std::to_string(retries.size()) +
                     " more by " + secs(retries.empty() ? first->at : retries.back().at);
  uint32_t id = c.new_comm_id();
  c.send(c.req(id, l->qpn), c.new_tid());
  auto answer = c.wait(answers_req(id), c.options().answer_wait);
  seen += "; a REQ from its QP then: " +
          (answer ? describe(answer->mad) + " at " + secs(answer->at) : std::string("no answer"));
  const bool bounded = retries.size() <= kOurMaxRetries;
  const bool given_up = answer && std::holds_alternative<wire::Rep>(answer->mad.message);
  Outcome o = bounded && given_up ? pass(seen) : deviation(seen);
  if (given_up) {
    if (!close_link(c, accept_rep(c, id, l->qpn, *answer))) ++o.left_open;
  } else if (auto dreq = c.wait(to_us<wire::Dreq>(l->ours), c.options().answer_wait)) {
    answer_dreq(c, dreq->mad);  // still held: end it now
  }
  return o;
}

}  // namespace ibcm::probe
