// Alternate paths, both sides: LAP (load_alternate_path) and its retries, APR, MRA for a LAP, the
// LAP and APR received, migration to the alternate path. Linux can no longer send either message.
#include "engine/cm_impl.h"
#include "ibcm/wire/time.h"

namespace ibcm {

using namespace engine;
using wire::cm_time;

Status Cm::Impl::load_alternate_path(Time now, ConnId id, const wire::PathInfo& alt,
                                     std::span<const uint8_t> pd) {
  auto call = begin_call(now, id, Call::LoadAlternatePath);  // SendLap
  if (!call) return fail(call.error());
  if (pd.size() > 168) return fail(Error::PrivateDataTooLong);
  Conn& c = *call->c;
  auto l = message_of<wire::Lap>(c, pd);
  l.remote_qpn = c.remote_qpn;
  l.remote_cm_response_timeout = c.peer_resp;
  l.alternate = alt;
  alts_for(call->idx).pending = alt;
  c.tid = new_tid();
  c.retries_left = c.max_retries;
  c.lap = LapState::LapSent;
  keep_tx(c, l, c.tid);
  arm(c, call->idx, retry_interval(c));
  return Ok{};
}

Status Cm::Impl::send_apr(Time now, ConnId id, wire::ApStatus status, std::span<const uint8_t> info,
                          std::span<const uint8_t> pd) {
  auto call = begin_call(now, id, Call::SendApr);  // SendApr
  if (!call) return fail(call.error());
  if (info.size() > wire::kAriSize || pd.size() > 148) return fail(Error::PrivateDataTooLong);
  Conn& c = *call->c;
  auto a = message_of<wire::Apr>(c, pd);
  a.ap_status = status;
  a.additional_information_length = static_cast<uint8_t>(info.size());
  copy_pd(a.additional_information, info);
  end_lap(c, call->idx, status == wire::ApStatus::Success);
  release_tx(c);
  send_msg(c.peer, a, c.tid);
  return Ok{};
}

Status Cm::Impl::migrate(ConnId id) {
  auto call = find_for_call(id, Call::Migrate);  // Migrate
  if (!call) return fail(call.error());
  AltPaths* a = alts(call->idx);
  if (!a || !a->alternate) return fail(Error::InvalidState);
  // After migration the old primary is gone; the spec's APM re-arms with a new LAP.
  setup_[call->idx].primary = *a->alternate;
  a->alternate.reset();
  update_ack_timeout(call->idx);
  return Ok{};
}

void Cm::Impl::end_lap(Conn& c, uint32_t idx, bool loaded) {
  c.lap = LapState::Idle;
  AltPaths* a = alts(idx);
  if (!a) return;
  if (loaded) a->alternate = a->pending;
  a->pending.reset();
  update_ack_timeout(idx);
}

void Cm::Impl::act_lap_accept(Conn& c, const wire::Mad& mad) {
  const auto& lap = std::get<wire::Lap>(mad.message);
  if (lap.remote_qpn != c.local_qpn) {
    count_drop(Drop::WrongRemoteQpn, "LAP", "RemoteQPN is not our QPN");
    return;
  }
  c.tid = mad.header.transaction_id;
  c.lap = LapState::LapRcvd;
  wire::PathInfo p = lap.alternate;  // the sender's view: flip to ours
  std::swap(p.local_lid, p.remote_lid);
  std::swap(p.local_gid, p.remote_gid);
  alts_for(index_of(c)).pending = p;
  emit_for(c, ev::LapReceived{c.local_id, lap});
}

void Cm::Impl::act_apr_done(Conn& c, uint32_t idx, const wire::Mad& mad) {
  disarm(c);
  release_tx(c);
  const auto& apr = std::get<wire::Apr>(mad.message);
  end_lap(c, idx, apr.ap_status == wire::ApStatus::Success);
  emit_for(c, ev::AprReceived{c.local_id, apr});
}

void Cm::Impl::act_lap_mra(Conn& c, uint32_t idx, const wire::Mad& mad) {
  const auto& mra = std::get<wire::Mra>(mad.message);
  if (mra.message_mraed != wire::MsgRef::Other) {
    count_drop(Drop::InvalidState, "MRA", "MRA for REQ/REP on an established connection");
    return;
  }
  c.lap = LapState::MraLapRcvd;
  arm(c, idx, cm_time(mra.service_timeout) + cm_time(c.packet_lifetime));
  emit_for(c, ev::MraReceived{c.local_id, mra});
}

void Cm::Impl::act_lap_rejected(Conn& c, uint32_t idx, const wire::Mad& mad) {
  disarm(c);
  release_tx(c);
  end_lap(c, idx, false);
  emit_for(c, ev::RejReceived{c.local_id, c.state, std::get<wire::Rej>(mad.message)});
}

void Cm::Impl::act_peer_abandoned(Conn& c, uint32_t idx, const wire::Mad& mad) {
  if (cfg_.mutations & static_cast<uint32_t>(Mutation::IgnoreRejOnEstablished)) return;
  end_lap(c, idx, false);
  emit_for(c, ev::RejReceived{c.local_id, c.state, std::get<wire::Rej>(mad.message)});
  enter_timewait(c, idx);  // the QP may still see the old connection's packets: protect it
}

void Cm::Impl::act_retry_lap(Conn& c, uint32_t idx) {
  if (c.retries_left > 0) {
    --c.retries_left;
    c.lap = LapState::LapSent;
    resend_kept(c, true);
    arm(c, idx, retry_interval(c));
    return;
  }
  release_tx(c);
  end_lap(c, idx, false);
  emit_for(c, ev::LapTimeout{c.local_id});
}

}  // namespace ibcm
