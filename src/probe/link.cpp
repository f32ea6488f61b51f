#include "probe/link.h"

#include "ibcm/wire/time.h"

namespace ibcm::probe {

Time one_try(const Conversation& c) {
  // The probe's margin: a remote on a loaded host (or in an emulated guest) answers late.
  constexpr Time kMargin = std::chrono::milliseconds(300);
  return 2 * wire::cm_time(kOurAckTimeout - 1) + wire::cm_time(kOurResponseTimeout) + kMargin +
         c.options().answer_wait;
}

wire::Rej timeout_rej(const Conversation& c, uint32_t ours, uint32_t theirs, wire::MsgRef msg) {
  wire::Rej rej;
  rej.local_comm_id = ours;
  rej.remote_comm_id = theirs;
  rej.message_rejected = msg;
  rej.reason = wire::RejReason::Timeout;
  rej.rejected_info_length = 8;
  for (int i = 0; i < 8; ++i)
    rej.ari[static_cast<size_t>(i)] = static_cast<uint8_t>(c.options().ca_guid >> (56 - 8 * i));
  return rej;
}

Link accept_rep(Conversation& c, uint32_t ours, uint32_t qpn, const Got& rep) {
  const auto& r = std::get<wire::Rep>(rep.mad.message);
  wire::Rtu rtu;
  rtu.local_comm_id = ours;
  rtu.remote_comm_id = r.local_comm_id;
  c.send(rtu, rep.mad.header.transaction_id);
  return Link{ours, r.local_comm_id, qpn, r.local_qpn, rep.mad.header.transaction_id};
}

std::optional<Link> open_link(Conversation& c, std::string& why, uint32_t qpn) {
  Link l;
  l.ours = c.new_comm_id();
  l.qpn = qpn != 0 ? qpn : c.new_qpn();
  wire::Req req = c.req(l.ours, l.qpn);
  uint64_t tid = c.new_tid();
  c.send(req, tid);
  Time limit = c.options().answer_wait;
  for (;;) {
    auto got = c.wait(answers_req(l.ours), limit);
    if (!got) {
      why = "no answer to the REQ";
      // Withdrawn, as our REQ's timeout would: nothing left half-open at the remote.
      c.send(timeout_rej(c, l.ours, 0, wire::MsgRef::Req), tid);
      return std::nullopt;
    }
    if (const auto* mra = std::get_if<wire::Mra>(&got->mad.message)) {
      // More time asked: its service timeout, then ours to answer.
      limit = wire::cm_time(mra->service_timeout) + c.options().answer_wait;
      continue;
    }
    if (std::holds_alternative<wire::Rep>(got->mad.message))
      return accept_rep(c, l.ours, l.qpn, *got);
    why = describe(got->mad) + " to the REQ";
    return std::nullopt;
  }
}

bool close_link(Conversation& c, const Link& l) {
  wire::Dreq dreq;
  dreq.local_comm_id = l.ours;
  dreq.remote_comm_id = l.theirs;
  dreq.remote_qpn = l.their_qpn;
  uint64_t tid = c.new_tid();
  // The remote's own DREQ may cross ours: answering it ends the connection as well.
  auto drep_or_dreq = [drep = to_us<wire::Drep>(l.ours), theirs = to_us<wire::Dreq>(l.ours)](
                          const wire::Mad& m) { return drep(m) || theirs(m); };
  for (int tries = 0; tries <= kOurMaxRetries; ++tries) {
    c.send(dreq, tid);
    if (auto got = c.wait(drep_or_dreq, one_try(c))) {
      if (std::holds_alternative<wire::Dreq>(got->mad.message)) answer_dreq(c, got->mad);
      return true;
    }
  }
  return false;
}

void reject_rep(Conversation& c, uint32_t ours, const Got& rep) {
  c.send(consumer_rej(ours, std::get<wire::Rep>(rep.mad.message).local_comm_id, wire::MsgRef::Rep),
         rep.mad.header.transaction_id);
}

void answer_dreq(Conversation& c, const wire::Mad& mad) {
  const auto& dreq = std::get<wire::Dreq>(mad.message);
  wire::Drep drep;
  drep.local_comm_id = dreq.remote_comm_id;
  drep.remote_comm_id = dreq.local_comm_id;
  c.send(drep, mad.header.transaction_id);
}

}  // namespace ibcm::probe
