// Teardown, both sides: disconnect (DREQ) and its retries, DREQ and DREP received, the DREP,
// destroy in every state, and TIMEWAIT, which keeps a QPN out of use until the peer can no longer
// send to it.
#include "engine/cm_impl.h"
#include "ibcm/wire/time.h"

namespace ibcm {

using namespace engine;
using wire::cm_time;

Status Cm::Impl::disconnect(Time now, ConnId id, std::span<const uint8_t> pd) {
  auto call = begin_call(now, id, Call::Disconnect);  // SendDreq
  if (!call) return fail(call.error());
  if (pd.size() > 220) return fail(Error::PrivateDataTooLong);
  Conn& c = *call->c;
  disarm(c);  // a LAP in flight is abandoned
  end_lap(c, call->idx, false);
  start_dreq(c, call->idx, pd);
  return Ok{};
}

Status Cm::Impl::send_drep(Time now, ConnId id, std::span<const uint8_t> pd) {
  auto call = begin_call(now, id, Call::SendDrep);  // DrepTimeWait
  if (!call) return fail(call.error());
  if (pd.size() > 224) return fail(Error::PrivateDataTooLong);
  send_drep_and_timewait(*call->c, call->idx, pd);
  return Ok{};
}

void Cm::Impl::destroy(Time now, ConnId id) {
  auto call = begin_call(now, id, Call::Destroy);
  if (!call) return;  // an unknown connection: nothing to do (the table refuses no destroy)
  Conn& c = *call->c;
  const uint32_t idx = call->idx;
  c.detached = true;
  if (c.req_held) {  // its REQ never left (Config::max_reqs_in_flight): nobody to tell
    free_conn(idx);
    return;
  }
  switch (call->act) {
    case CallAct::Free:
      free_conn(idx);
      return;
    case CallAct::RejTimeout:
      send_rej_timeout(c, wire::MsgRef::Req);
      free_conn(idx);
      return;
    case CallAct::RejectReq:
      reject_conn(c, idx, wire::MsgRef::Req, wire::RejReason::ConsumerDefined, {}, {}, false);
      return;
    case CallAct::RejectRep:
      reject_conn(c, idx, wire::MsgRef::Rep, wire::RejReason::ConsumerDefined, {}, {}, false);
      return;
    case CallAct::RejectRepTimeWait:
      reject_conn(c, idx, wire::MsgRef::Rep, wire::RejReason::ConsumerDefined, {}, {}, true);
      return;
    case CallAct::DreqOnceTimeWait:
      send_msg(c.peer, make_dreq(c, {}), new_tid());
      enter_timewait(c, idx);
      return;
    case CallAct::TimeWait:
      enter_timewait(c, idx);
      return;
    case CallAct::DrepTimeWait:
      send_drep_and_timewait(c, idx, {});
      return;
    default:  // Ignore: TIMEWAIT runs out on its own and frees the record
      return;
  }
}

void Cm::Impl::start_dreq(Conn& c, uint32_t idx, std::span<const uint8_t> pd) {
  c.retries_left = c.max_retries;
  set_state(c, State::DreqSent);
  keep_tx(c, make_dreq(c, pd), new_tid());
  arm(c, idx, retry_interval(c));
}

void Cm::Impl::send_drep_and_timewait(Conn& c, uint32_t idx, std::span<const uint8_t> pd) {
  send_msg(c.peer, message_of<wire::Drep>(c, pd), c.tid);
  enter_timewait(c, idx);
}

void Cm::Impl::act_resend_drep(Conn& c, const wire::Mad& mad) {
  const auto& d = std::get<wire::Dreq>(mad.message);
  if (d.remote_qpn != c.local_qpn) {
    count_drop(Drop::WrongRemoteQpn, "DREQ", "RemoteQPN is not ours");
    return;
  }
  send_msg(c.peer, message_of<wire::Drep>(c, {}), mad.header.transaction_id);
}

void Cm::Impl::on_unknown_dreq(const Address& from, const wire::Mad& mad) {
  // A DREQ for a connection we do not have (we rebooted, or already cleaned up) is still
  // answered, so the peer can finish at once instead of retrying into a timeout.
  const auto& dreq = std::get<wire::Dreq>(mad.message);
  ++counters_.drop(Drop::UnknownConnection);
  wire::Drep d;
  d.local_comm_id = dreq.remote_comm_id;
  d.remote_comm_id = dreq.local_comm_id;
  send_msg(from, d, mad.header.transaction_id);
}

void Cm::Impl::act_dreq(Conn& c, const wire::Mad& mad) {
  const auto& dreq = std::get<wire::Dreq>(mad.message);
  if (dreq.remote_qpn != c.local_qpn) {
    count_drop(Drop::WrongRemoteQpn, "DREQ", "RemoteQPN is not our QPN");
    return;
  }
  disarm(c);  // REP retries, or our own DREQ's when both sides disconnect at once
  release_tx(c);
  c.tid = mad.header.transaction_id;
  c.lap = LapState::Idle;
  bool was_established = c.state == State::Established || c.state == State::DreqSent;
  set_state(c, State::DreqRcvd);
  if (!was_established) emit_for(c, ev::Established{c.local_id});
  emit_for(c, ev::DreqReceived{c.local_id, dreq});
}

void Cm::Impl::act_drep(Conn& c, uint32_t idx, const wire::Mad& mad) {
  emit_for(c, ev::DrepReceived{c.local_id, std::get<wire::Drep>(mad.message)});
  enter_timewait(c, idx);
}

void Cm::Impl::act_retry_dreq(Conn& c, uint32_t idx) {
  if (c.retries_left > 0) {
    --c.retries_left;
    resend_kept(c, true);
    arm(c, idx, retry_interval(c));
    return;
  }
  // No DREP after every retry: the spec's "DREP timeout -> TimeWait". Nobody waits forever.
  if (cfg_.mutations & static_cast<uint32_t>(Mutation::NeverTimeOutDreq)) return;
  emit_for(c, ev::DreqTimeout{c.local_id});
  enter_timewait(c, idx);
}

Time Cm::Impl::timewait_length(const Conn& c) const {
  if (cfg_.timewait.count() > 0) return cfg_.timewait;
  return cm_time(c.ack_timeout);
}

void Cm::Impl::enter_timewait(Conn& c, uint32_t idx) {
  release_tx(c);
  // The connection is over on both sides: the peer may reuse its QPN for a new connection to a
  // new QP of ours (ours stays protected by the local-QPN map), so a new REQ or REP from that QPN
  // is not stale. Duplicates of the old REQ still find it by remote comm ID and get REJ 10.
  forget_remote_qpn(c, idx);
  set_state(c, State::TimeWait);
  c.lap = LapState::Idle;
  arm(c, idx, timewait_length(c));
}

void Cm::Impl::act_exit_timewait(Conn& c, uint32_t idx) {
  emit_for(c, ev::TimeWaitExit{c.local_id});
  free_conn(idx);
}

wire::Dreq Cm::Impl::make_dreq(const Conn& c, std::span<const uint8_t> pd) const {
  auto d = message_of<wire::Dreq>(c, pd);
  d.remote_qpn = c.remote_qpn;
  return d;
}

}  // namespace ibcm
