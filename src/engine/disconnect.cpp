// Connection release: DREQ, DREP, their timer, and TIMEWAIT.
#include "engine/impl.h"

namespace ibcm {

using namespace engine;

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

void Cm::Impl::act_dreq(Conn& c, uint32_t idx, const wire::Mad& mad) {
  (void)idx;
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

void Cm::Impl::act_exit_timewait(Conn& c, uint32_t idx) {
  emit_for(c, ev::TimeWaitExit{c.local_id});
  free_conn(idx);
}

}  // namespace ibcm
