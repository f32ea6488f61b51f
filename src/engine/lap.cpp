// Alternate paths: LAP / APR in both directions (Linux can no longer send either).
#include "engine/impl.h"
#include "ibcm/wire/time.h"

namespace ibcm {

using namespace engine;
using wire::cm_time;

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
  end_lap(idx, apr.ap_status == wire::ApStatus::Success);
  c.lap = LapState::Idle;
  emit_for(c, ev::AprReceived{c.local_id, apr});
}

void Cm::Impl::act_lap_mra(Conn& c, uint32_t idx, const wire::Mad& mad) {
  const auto& mra = std::get<wire::Mra>(mad.message);
  if (mra.message_mraed != wire::MsgRef::Other) {
    count_drop(Drop::InvalidState, "MRA", "MRA for REQ/REP on an established connection");
    return;
  }
  c.lap = LapState::MraLapRcvd;
  arm(c, idx, cm_time(mra.service_timeout) + cm_time(c.plt));
  emit_for(c, ev::MraReceived{c.local_id, mra});
}

void Cm::Impl::act_lap_rejected(Conn& c, uint32_t idx, const wire::Mad& mad) {
  disarm(c);
  release_tx(c);
  end_lap(idx, false);
  c.lap = LapState::Idle;
  emit_for(c, ev::RejReceived{c.local_id, c.state, std::get<wire::Rej>(mad.message)});
}

void Cm::Impl::act_peer_abandoned(Conn& c, uint32_t idx, const wire::Mad& mad) {
  if (cfg_.mutations & static_cast<uint32_t>(Mutation::IgnoreRejOnEstablished)) return;
  end_lap(idx, false);
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
  end_lap(idx, false);
  c.lap = LapState::Idle;
  emit_for(c, ev::LapTimeout{c.local_id});
}

}  // namespace ibcm
