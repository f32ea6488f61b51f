// The legal order of one connection's events and calls (see conn_life.h). Each rule names the
// engine behaviour of docs/engine.md it stands for.
#include "sim/conn_life.h"

#include <initializer_list>

namespace ibcm::sim {

namespace {
bool one_of(State s, std::initializer_list<State> states) {
  for (State x : states)
    if (x == s) return true;
  return false;
}
}  // namespace

std::string_view to_string(Call c) {
  switch (c) {
    case Call::Accept:
      return "accept()";
    case Call::Reject:
      return "reject()";
    case Call::Disconnect:
      return "disconnect()";
    case Call::SendDrep:
      return "send_drep()";
    case Call::LoadAlternatePath:
      return "load_alternate_path()";
    case Call::Destroy:
      return "destroy()";
  }
  return "?";
}

std::string_view to_string(ConnLife::Stage s) {
  using S = ConnLife::Stage;
  switch (s) {
    case S::Connecting:
      return "connecting";
    case S::RepReceived:
      return "REP received";
    case S::Accepting:
      return "accepting";
    case S::Established:
      return "established";
    case S::Disconnecting:
      return "disconnecting";
    case S::DreqReceived:
      return "DREQ received";
    case S::TimeWait:
      return "TIMEWAIT";
    case S::Ended:
      return "ended";
    case S::Destroyed:
      return "destroyed";
  }
  return "?";
}

bool ConnLife::settled() const {
  return stage_ == Stage::Ended || stage_ == Stage::Destroyed ||
         (stage_ == Stage::Established && !lap_);
}

std::string ConnLife::event(const Event& e) {
  using S = Stage;
  const S s = stage_;
  bool ok = false;
  bool lap_over = false;  // our outstanding LAP is answered
  bool told_stale = false;
  S next = s;
  if (s == S::Ended || s == S::Destroyed) {
    ok = false;
  } else if (auto* x = std::get_if<ev::ReqReceived>(&e)) {
    // Only a peer-to-peer attempt that lost the collision turns passive under the same ID.
    ok = s == S::Connecting && x->peer_to_peer;
    next = S::Accepting;
  } else if (auto* x = std::get_if<ev::MraReceived>(&e)) {
    const wire::MsgRef m = x->mra.message_mraed;
    ok = (s == S::Connecting && m == wire::MsgRef::Req) ||
         (s == S::Accepting && accepted_ && m == wire::MsgRef::Rep) ||
         (s == S::Established && lap_ && m == wire::MsgRef::Other);
  } else if (auto* x = std::get_if<ev::RejReceived>(&e)) {
    const bool stale = x->rej.reason == wire::RejReason::StaleConnection;
    switch (s) {
      case S::Connecting:
        ok = one_of(x->prior, {State::ReqSent, State::MraReqRcvd});
        break;
      case S::RepReceived:
        ok = one_of(x->prior, {State::RepRcvd, State::MraRepSent});
        break;
      case S::Accepting:
        ok = one_of(x->prior, {State::ReqRcvd, State::MraReqSent}) ||
             (accepted_ && one_of(x->prior, {State::RepSent, State::MraRepRcvd}));
        break;
      case S::Established:
        ok = x->prior == State::Established;
        break;
      default:
        break;
    }
    // During establishment a REJ ends the attempt (REJ 10: through TIMEWAIT). On an
    // ESTABLISHED connection it rejects our outstanding LAP (MessageRejected = other), or says
    // the peer gave the connection up: TIMEWAIT.
    if (s != S::Established)
      next = stale ? S::TimeWait : S::Ended;
    else if (lap_ && x->rej.message_rejected == wire::MsgRef::Other)
      lap_over = true;
    else
      next = S::TimeWait;
  } else if (std::holds_alternative<ev::RepReceived>(e)) {
    ok = s == S::Connecting;
    next = S::RepReceived;
  } else if (std::holds_alternative<ev::RtuReceived>(e)) {
    ok = s == S::Accepting && accepted_;  // `established` follows
  } else if (std::holds_alternative<ev::Established>(e)) {
    ok = s == S::RepReceived || (s == S::Accepting && accepted_);
    next = S::Established;
  } else if (std::holds_alternative<ev::DreqReceived>(e)) {
    ok = s == S::Established || s == S::Disconnecting;  // DREQs may cross
    next = S::DreqReceived;
  } else if (std::holds_alternative<ev::DrepReceived>(e) ||
             std::holds_alternative<ev::DreqTimeout>(e)) {
    ok = s == S::Disconnecting;
    next = S::TimeWait;
  } else if (std::holds_alternative<ev::LapReceived>(e)) {
    ok = s == S::Established;
  } else if (std::holds_alternative<ev::AprReceived>(e) ||
             std::holds_alternative<ev::LapTimeout>(e)) {
    ok = s == S::Established && lap_;
    lap_over = true;
  } else if (std::holds_alternative<ev::ReqTimeout>(e)) {
    ok = s == S::Connecting;
    next = S::Ended;
  } else if (std::holds_alternative<ev::RepTimeout>(e)) {
    ok = s == S::Accepting && accepted_;
    next = S::TimeWait;
  } else if (std::holds_alternative<ev::TimeWaitExit>(e)) {
    ok = s == S::TimeWait;
    next = S::Ended;
  } else if (std::holds_alternative<ev::StaleConnection>(e)) {
    // The peer reused the QP: we send DREQ for the old connection (ours may be out already),
    // or the DREP it waited for. Told once, however often the peer retries.
    ok = !stale_ && (s == S::Accepting || s == S::RepReceived || s == S::Established ||
                     s == S::Disconnecting || s == S::DreqReceived);
    told_stale = true;
    next = s == S::DreqReceived ? S::TimeWait : S::Disconnecting;
  } else if (auto* x = std::get_if<ev::Aborted>(&e)) {
    // REJ 10 for a REP naming a stale QP (TIMEWAIT), or eviction from the half-open backlog.
    if (x->reason == wire::RejReason::StaleConnection) {
      ok = s == S::Connecting;
      next = S::TimeWait;
    } else {
      ok = s == S::Accepting && x->reason == wire::RejReason::NoResources;
      next = S::Ended;
    }
  }
  if (!ok) return std::string(event_name(e)) + " while " + std::string(to_string(s));
  if (lap_over || next != s) lap_ = false;  // a LAP does not outlive its connection's state
  stale_ = stale_ || told_stale;
  stage_ = next;
  return {};
}

std::string ConnLife::call(Call c) {
  using S = Stage;
  const S s = stage_;
  bool ok = false;
  S next = s;
  switch (c) {
    case Call::Accept:
      ok = s == S::Accepting && !accepted_;
      accepted_ = accepted_ || ok;
      break;
    case Call::Reject:
      ok = (s == S::Accepting && !accepted_) || s == S::RepReceived;
      next = S::Ended;
      break;
    case Call::Disconnect:
      ok = s == S::Established;
      next = S::Disconnecting;
      break;
    case Call::SendDrep:
      ok = s == S::DreqReceived;
      next = S::TimeWait;
      break;
    case Call::LoadAlternatePath:
      ok = s == S::Established && !lap_;
      lap_ = lap_ || ok;
      break;
    case Call::Destroy:
      ok = true;
      next = S::Destroyed;
      break;
  }
  if (!ok) return std::string(to_string(c)) + " succeeded while " + std::string(to_string(s));
  if (next != s) lap_ = false;
  stage_ = next;
  return {};
}

}  // namespace ibcm::sim
