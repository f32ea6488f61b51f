// Connection establishment: a REQ sent twice, an RTU that never comes, an MRA for the REP.
#include <algorithm>

#include "ibcm/wire/time.h"
#include "probe/checks.h"
#include "probe/link.h"

namespace ibcm::probe {

namespace {

// "3 REPs at 0.000 0.201 0.402 s"
std::string listing(std::string_view name, const std::vector<Got>& got) {
  // Appended piece by piece: GCC 12 -O3 misreads "literal" + std::string&& (-Wrestrict).
  std::string s = std::to_string(got.size());
  s += ' ';
  s += name;
  if (got.size() != 1) s += 's';
  if (got.empty()) return s;
  s += " at";
  for (const Got& g : got) {
    s += ' ';
    s += seconds(g.at);
  }
  s += " s";
  return s;
}

}  // namespace

Outcome check_duplicate_req(Conversation& c) {
  uint32_t id = c.new_comm_id();
  uint32_t qpn = c.new_qpn();
  // Our CM response time long (1.07 s) here, so that the remote's own REP retry does not come
  // while we look at what answers the duplicate.
  constexpr uint8_t kSlowAnswer = 18;
  wire::Req req = c.req(id, qpn, kSlowAnswer);
  uint64_t tid = c.new_tid();
  c.send(req, tid);
  auto first = c.wait(to_us<wire::Rep>(id), c.options().answer_wait);
  if (!first) return not_applicable("no REP to the first REQ (" + c.strays() + ")");
  c.send(req, tid);  // the same REQ again, as a retry whose REP crossed it
  // What answers the duplicate: the same REP again, an MRA, or nothing; never a second connection.
  auto again = c.gather(answers_req(id),
                        std::min(c.options().answer_wait, Time(wire::cm_time(kSlowAnswer) / 2)));
  Link l = accept_rep(c, id, qpn, *first);
  Outcome o;
  std::string seen;
  bool second = false;
  for (const Got& g : again) {
    seen += (seen.empty() ? "" : ", ") + describe(g.mad) + " at " + secs(g.at);
    if (const auto* r = std::get_if<wire::Rep>(&g.mad.message); r && r->local_comm_id != l.theirs)
      second = true;
    if (std::holds_alternative<wire::Rej>(g.mad.message)) second = true;
  }
  seen = "REP at " + secs(first->at) + "; to the duplicate: " + (seen.empty() ? "nothing" : seen);
  o = second ? deviation(seen) : pass(seen);
  if (!close_link(c, l)) o.left_open = 1;
  return o;
}

Outcome check_lost_rtu(Conversation& c) {
  uint32_t id = c.new_comm_id();
  c.send(c.req(id, c.new_qpn()), c.new_tid());
  // The REP, its retries (at most kOurMaxRetries, each after the time our REQ gave), then REJ 4.
  std::vector<Got> reps;
  std::optional<Got> rej;
  auto rep_or_rej = [rep = to_us<wire::Rep>(id), r = to_us<wire::Rej>(id)](const wire::Mad& m) {
    return rep(m) || r(m);
  };
  // Until two tries' time passes with nothing more.
  while (auto got = c.wait(rep_or_rej, 2 * one_try(c))) {
    if (std::holds_alternative<wire::Rej>(got->mad.message)) {
      rej = std::move(got);
      break;
    }
    reps.push_back(std::move(*got));
  }
  if (reps.empty()) return not_applicable("no REP to the REQ (" + c.strays() + ")");
  std::string seen = listing("REP", reps);
  seen += rej ? ", then " + describe(rej->mad) + " at " + secs(rej->at) : ", then no REJ";
  const bool retried = reps.size() >= 2 && reps.size() <= 1u + kOurMaxRetries;
  const bool timed_out =
      rej && std::get<wire::Rej>(rej->mad.message).reason == wire::RejReason::Timeout &&
      std::get<wire::Rej>(rej->mad.message).message_rejected == wire::MsgRef::Rep;
  // Retries no sooner than our REQ allows (a quarter of a try's time is the clock's slack).
  bool spaced = true;
  for (size_t i = 1; i < reps.size(); ++i)
    spaced = spaced && reps[i].at - reps[i - 1].at >= wire::cm_time(kOurResponseTimeout) / 4;
  Outcome o = retried && timed_out && spaced ? pass(seen) : deviation(seen);
  if (!rej) {  // the remote may still wait: end it
    uint32_t theirs = std::get<wire::Rep>(reps.front().mad.message).local_comm_id;
    c.send(timeout_rej(c, id, theirs, wire::MsgRef::Rep), reps.front().mad.header.transaction_id);
  }
  return o;
}

Outcome check_mra_rep(Conversation& c) {
  // Our REQ asks the remote to retry its REP every ~0.2 s; the MRA asks 2^18 (1.07 s) more.
  constexpr uint8_t kMraServiceTimeout = 18;
  uint32_t id = c.new_comm_id();
  uint32_t qpn = c.new_qpn();
  c.send(c.req(id, qpn), c.new_tid());
  auto rep = c.wait(to_us<wire::Rep>(id), c.options().answer_wait);
  if (!rep) return not_applicable("no REP to the REQ (" + c.strays() + ")");
  wire::Mra mra;
  mra.local_comm_id = id;
  mra.remote_comm_id = std::get<wire::Rep>(rep->mad.message).local_comm_id;
  mra.message_mraed = wire::MsgRef::Rep;
  mra.service_timeout = kMraServiceTimeout;
  Time mra_at = c.now();
  c.send(mra, rep->mad.header.transaction_id);
  // Three quarters of the time asked: a REP in it is a retry the MRA should have held back.
  auto early = c.gather(to_us<wire::Rep>(id), wire::cm_time(kMraServiceTimeout) * 3 / 4);
  Link l = accept_rep(c, id, qpn, *rep);
  bool established = close_link(c, l);
  std::string seen = "MRA sent at " + secs(mra_at) + "; " + listing("REP", early) +
                     " in the next " + secs(wire::cm_time(kMraServiceTimeout) * 3 / 4) + "; RTU, " +
                     (established ? "then DREQ answered by DREP" : "then DREQ unanswered");
  Outcome o = early.empty() && established ? pass(seen) : deviation(seen);
  if (!established) o.left_open = 1;
  return o;
}

}  // namespace ibcm::probe
