// Stale connections (IBTA 12.4.1, 12.9.7): a REQ or REP that claims the (QPN, CA GUID) of a
// connection we still hold gets REJ 10, and that connection, if the claim comes from its peer,
// is ended with a DREQ that names the reused QPN, whatever state it is in.
#include "engine/cm_impl.h"

namespace ibcm {

using namespace engine;

void Cm::Impl::stale_claim(uint32_t old_idx, const Address& from, uint32_t remote_qpn,
                           std::string_view msg_name) {
  // The QPN and CA GUID are on the wire for anyone to copy; only the connection's peer may end
  // it this way.
  if (!is_peer_gid(old_idx, from.gid)) {
    count_drop(Drop::StaleSpoofed, msg_name,
               "claims the QPN of a connection whose peer is another GID: REJ 10, connection kept");
    return;
  }
  tear_down_stale(old_idx, remote_qpn);
}

void Cm::Impl::tear_down_stale(uint32_t idx, uint32_t remote_qpn) {
  Conn& c = conns_.items[idx];
  switch (act(c.state, Input::Stale)) {
    case Act::StaleReport:  // our DREQ already names that QPN and keeps being retried
      break;
    case Act::StaleDrep:  // the peer asked to disconnect and has since forgotten us: finish now
      send_drep_and_timewait(c, idx, {});
      break;
    case Act::StaleDreq:
      // Any state from REQ_RCVD on, not only ESTABLISHED: DREQ with RemoteQPN = the QPN the peer
      // reused.
      if (cfg_.mutations & static_cast<uint32_t>(Mutation::SkipStaleDreq)) return;
      disarm(c);
      release_tx(c);
      c.lap = LapState::Idle;
      c.remote_qpn = remote_qpn;
      if (c.max_retries == 0) c.max_retries = std::min<uint8_t>(cfg_.max_cm_retries, 15);
      start_dreq(c, idx, {});
      ++counters_.dreq_sent_stale;
      break;
    default:  // no claim reaches the other states (state_table.h)
      count_drop(Drop::InvalidState, "stale claim", to_string(c.state));
      return;
  }
  // The consumer hears of it once, whichever state the connection is in; a second stale REQ
  // (the peer's retry while our DREQ is still unanswered) tells it nothing new.
  if (!c.stale_reported) emit_for(c, ev::StaleConnection{c.local_id, remote_qpn, c.remote_guid});
  c.stale_reported = true;
}

void Cm::Impl::act_rej_stale(Conn& c, const Address& from, const wire::Mad& mad) {
  // A duplicate of the REQ of a connection that is over (TIMEWAIT): the peer may not reuse it yet.
  reject_req(from, mad, wire::RejReason::StaleConnection, {}, c.local_id);
}

}  // namespace ibcm
