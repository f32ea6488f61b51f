// Connection establishment: REQ, MRA, REJ, REP, RTU, their timers, and stale-connection handling.
#include <algorithm>

#include "engine/impl.h"
#include "ibcm/wire/time.h"

namespace ibcm {

using namespace engine;
using wire::cm_time;

void Cm::Impl::reject_req(const Address& from, const wire::Mad& mad, wire::RejReason reason,
                          std::span<const uint8_t> ari, ConnId from_conn) {
  const auto& req = std::get<wire::Req>(mad.message);
  wire::Rej r;
  r.local_comm_id = from_conn;
  r.remote_comm_id = req.local_comm_id;
  r.message_rejected = wire::MsgRef::Req;
  r.reason = reason;
  r.rejected_info_length = static_cast<uint8_t>(std::min(ari.size(), wire::kAriSize));
  std::copy_n(ari.begin(), r.rejected_info_length, r.ari.begin());
  if (reason == wire::RejReason::StaleConnection) ++counters_.rej_sent_stale;
  send_msg(from, r, mad.header.transaction_id);
}

namespace {

// ::, or the IPv4-mapped 0.0.0.0: a transport bound to every address, which names no one GID.
bool unspecified_gid(const wire::Gid& g) {
  for (size_t i = 0; i < 10; ++i)
    if (g[i] != 0) return false;
  const bool mapped = g[10] == 0xFF && g[11] == 0xFF;
  if (!mapped && (g[10] != 0 || g[11] != 0)) return false;
  for (size_t i = 12; i < 16; ++i)
    if (g[i] != 0) return false;
  return true;
}

// An alternate path is present when AlternateLocalPortLID is set or, on RoCE, its GIDs are.
bool has_alternate(const wire::Req& r) {
  return r.alternate.local_lid != 0 || !wire::same_gid(r.alternate.local_gid, wire::Gid{});
}

// PrimaryPacketRate / AlternatePacketRate, encoded as a PathRecord's Rate: 2..25 (2.5 Gb/s to
// 1600 Gb/s, IBTA up to release 1.8) and 0, which Linux's rdma_cm sends for a link of unknown
// speed; 1 and 26..63 are reserved whatever the port.
bool reserved_rate(uint8_t rate) {
  return rate == 1 || rate > 25;
}

// A REQ's fields that are invalid whatever port receives it, with the REJ reason for each, in
// the order they are checked (the GID, which depends on the port, is checked after them).
struct ReqRule {
  wire::RejReason reason;
  bool (*invalid)(const wire::Req&);
};
constexpr ReqRule kReqRules[] = {
    // RC, UC and XRC; RD needs an EE context we do not have; QP 0 cannot be connected.
    {wire::RejReason::InvalidTransportType,
     [](const wire::Req& r) {
       bool ok = r.transport_service_type == wire::TransportType::RC ||
                 r.transport_service_type == wire::TransportType::UC ||
                 (r.transport_service_type == wire::TransportType::Extended &&
                  r.extended_transport_type == wire::ExtendedTransport::XRC);
       return !ok || r.local_qpn == 0;
     }},
    // PathPacketPayloadMTU: 1 (256) to 5 (4096); 0 and 6..15 are reserved encodings.
    {wire::RejReason::InvalidMtu,
     [](const wire::Req& r) {
       return r.path_mtu == wire::Mtu::None || r.path_mtu > wire::Mtu::Mtu4096;
     }},
    {wire::RejReason::InvalidPacketRate,
     [](const wire::Req& r) { return reserved_rate(r.primary.packet_rate); }},
    {wire::RejReason::InvalidAltPacketRate,
     [](const wire::Req& r) { return has_alternate(r) && reserved_rate(r.alternate.packet_rate); }},
};

}  // namespace

void Cm::Impl::on_new_req(const Address& from, const wire::Mad& mad) {
  const auto& req = std::get<wire::Req>(mad.message);
  for (const ReqRule& rule : kReqRules) {
    if (rule.invalid(req)) {
      reject_req(from, mad, rule.reason);
      return;
    }
  }
  if (cfg_.check_req_gid && !unspecified_gid(cfg_.local.gid)) {
    // Addressed to a port that is not this one: REJ 12 (18 for the alternate path, which on a
    // port with one GID can only be another path to the same GID), and the GID to try instead.
    const bool primary_ok = wire::same_gid(req.primary.remote_gid, cfg_.local.gid);
    if (!primary_ok ||
        (has_alternate(req) && !wire::same_gid(req.alternate.remote_gid, cfg_.local.gid))) {
      reject_req(from, mad,
                 primary_ok ? wire::RejReason::InvalidAltGid : wire::RejReason::InvalidGid,
                 cfg_.local.gid);
      return;
    }
  }
  if (peer_to_peer_collision(from, mad)) return;

  // Stale connection: we still hold a connection with this remote QPN and CA GUID.
  if (const uint32_t* old = by_rqpn_.find(QpKey{req.local_qpn, req.local_ca_guid})) {
    uint32_t old_idx = *old;
    reject_req(from, mad, wire::RejReason::StaleConnection);
    stale_claim(old_idx, from, req.local_qpn, "REQ");
    return;
  }
  auto listener = match_listener(req.service_id);
  if (!listener) {
    reject_req(from, mad, wire::RejReason::InvalidServiceId);
    return;
  }
  if (half_open_ >= cfg_.max_half_open &&
      (cfg_.half_open_full == Config::HalfOpenFull::Reject || ho_head_ == kNoIndex)) {
    count_drop(Drop::LimitReached, "REQ", "half-open backlog full: REJ 3");
    reject_req(from, mad, wire::RejReason::NoResources);
    return;
  }
  if (half_open_ >= cfg_.max_half_open) evict_oldest_half_open();
  if (conns_.live >= cfg_.max_connections) {
    count_drop(Drop::LimitReached, "REQ", "connection limit reached: REJ 3");
    reject_req(from, mad, wire::RejReason::NoResources);
    return;
  }
  uint32_t idx = new_conn();
  Conn& c = conns_.items[idx];
  half_open_add(c, idx);
  accept_req_into(c, idx, from, mad, *listener, false);
}

void Cm::Impl::accept_req_into(Conn& c, uint32_t idx, const Address& from, const wire::Mad& mad,
                               ListenId listener, bool p2p) {
  const auto& req = std::get<wire::Req>(mad.message);
  c.active = false;
  c.p2p = p2p;
  c.peer = from;
  c.listener = listener;
  c.service_id = req.service_id;
  c.tid = mad.header.transaction_id;
  c.max_retries = req.max_cm_retries;
  // The REQ carries no packet lifetime; its local ACK timeout covers about two of them.
  c.plt = req.primary.local_ack_timeout > 0 ? req.primary.local_ack_timeout - 1 : 0;
  c.peer_resp = req.local_cm_response_timeout;
  set_remote(c, idx, req.local_comm_id, req.local_ca_guid, req.local_qpn);
  set_state(c, State::ReqRcvd);

  Setup& s = setup_[idx];
  // The REQ describes the path from the active side; seen from here local and remote swap.
  auto flip = [](wire::PathInfo p) {
    std::swap(p.local_lid, p.remote_lid);
    std::swap(p.local_gid, p.remote_gid);
    return p;
  };
  s.primary = flip(req.primary);
  if (has_alternate(req))
    alts_for(idx).alternate = flip(req.alternate);
  else if (AltPaths* a = alts(idx))  // a peer-to-peer REQ of ours turned passive: theirs counts
    a->alternate.reset();
  s.mtu = req.path_mtu;
  s.transport = req.transport_service_type;
  s.remote_psn = req.starting_psn;
  s.qkey = req.local_qkey;
  s.pkey = req.partition_key;
  s.retry_count = req.retry_count;
  s.rnr_retry = req.rnr_retry_count;
  s.max_dest_rd_atomic = req.initiator_depth;
  s.max_rd_atomic = req.responder_resources;
  update_ack_timeout(idx);
  emit(ev::ReqReceived{c.local_id, listener, from, req, p2p});
}

bool Cm::Impl::peer_to_peer_collision(const Address& from, const wire::Mad& mad) {
  const auto& req = std::get<wire::Req>(mad.message);
  for (uint32_t idx : p2p_pending_) {
    Conn& c = conns_.items[idx];
    if (c.service_id != req.service_id || !wire::same_gid(c.peer.gid, from.gid)) continue;
    if (c.state != State::ReqSent && c.state != State::MraReqRcvd) continue;
    // The collision rule: the side with the larger (CA GUID, QPN) stays active; the other
    // abandons its REQ and answers the peer's as the passive side. Both sides compute the same.
    bool we_stay_active = cfg_.ca_guid != req.local_ca_guid ? cfg_.ca_guid > req.local_ca_guid
                                                            : c.local_qpn > req.local_qpn;
    if (we_stay_active) {
      count_drop(Drop::PeerToPeerLost, "REQ", "peer-to-peer collision: we stay active");
      return true;
    }
    disarm(c);
    release_tx(c);
    remove_p2p(idx);
    c.p2p = true;
    accept_req_into(c, idx, from, mad, 0, true);
    return true;
  }
  return false;
}

void Cm::Impl::remove_p2p(uint32_t idx) {
  auto it = std::find(p2p_pending_.begin(), p2p_pending_.end(), idx);
  if (it != p2p_pending_.end()) {
    *it = p2p_pending_.back();
    p2p_pending_.pop_back();
  }
}

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
  // The consumer hears of it once, whichever state the connection is in; a second stale REQ
  // (the peer's retry while our DREQ is still unanswered) tells it nothing new.
  auto report = [&] {
    if (!c.stale_reported) emit_for(c, ev::StaleConnection{c.local_id, remote_qpn, c.remote_guid});
    c.stale_reported = true;
  };
  switch (c.state) {
    case State::TimeWait:
      return;  // over on both sides (and no longer in the QPN table, so not reached)
    case State::DreqSent:
      report();  // our DREQ already names that QPN and keeps being retried
      return;
    case State::DreqRcvd:
      // The peer asked to disconnect and has since forgotten the connection: finish now.
      send_msg(c.peer, make_drep(c, {}), c.tid);
      report();
      enter_timewait(c, idx);
      return;
    default:
      break;
  }
  // Any other state, not only ESTABLISHED: DREQ with RemoteQPN = the QPN the peer reused.
  if (cfg_.mutations & static_cast<uint32_t>(Mutation::SkipStaleDreq)) return;
  disarm(c);
  release_tx(c);
  c.lap = LapState::Idle;
  c.remote_qpn = remote_qpn;
  if (c.max_retries == 0) c.max_retries = cfg_.max_cm_retries;
  c.retries_left = c.max_retries;
  set_state(c, State::DreqSent);
  keep_tx(c, make_dreq(c, {}), new_tid());
  ++counters_.dreq_sent_stale;
  arm(c, idx, retry_interval(c));
  report();
}

void Cm::Impl::act_rep_accept(Conn& c, uint32_t idx, const Address& from, const wire::Mad& mad) {
  const auto& rep = std::get<wire::Rep>(mad.message);
  if (const uint32_t* old = by_rqpn_.find(QpKey{rep.local_qpn, rep.local_ca_guid});
      old && *old != idx) {
    // The REP's QP still has a connection here: REJ 10 for this REP, DREQ for the old one (if
    // the REP comes from its peer), and our own attempt stops (its REQ retries too) and waits out
    // TIMEWAIT: a REP whose QPN claim conflicts cannot set up a connection either way.
    uint32_t old_idx = *old;
    wire::Rej r;
    r.local_comm_id = c.local_id;
    r.remote_comm_id = rep.local_comm_id;
    r.message_rejected = wire::MsgRef::Rep;
    r.reason = wire::RejReason::StaleConnection;
    ++counters_.rej_sent_stale;
    send_msg(from, r, mad.header.transaction_id);
    stale_claim(old_idx, from, rep.local_qpn, "REP");
    Conn& self = conns_.items[idx];
    if (self.p2p) remove_p2p(idx);
    emit_for(self, ev::Aborted{self.local_id, wire::RejReason::StaleConnection});
    enter_timewait(self, idx);
    return;
  }
  disarm(c);
  release_tx(c);
  if (c.p2p) remove_p2p(idx);
  set_remote(c, idx, rep.local_comm_id, rep.local_ca_guid, rep.local_qpn);
  Setup& s = setup_[idx];
  s.remote_psn = rep.starting_psn;
  s.max_rd_atomic = std::min(s.max_rd_atomic, rep.responder_resources);
  s.max_dest_rd_atomic = std::min(s.max_dest_rd_atomic, rep.initiator_depth);
  s.rnr_retry = rep.rnr_retry_count;
  if (AltPaths* a = alts(idx); a && rep.failover_accepted != 0) a->alternate.reset();
  update_ack_timeout(idx);
  set_state(c, State::RepRcvd);
  emit_for(c, ev::RepReceived{c.local_id, rep});
}

void Cm::Impl::act_rej_connect(Conn& c, uint32_t idx, const wire::Mad& mad) {
  const auto& rej = std::get<wire::Rej>(mad.message);
  // A peer-to-peer REQ may reach the peer before it listens: keep retrying instead.
  if (c.p2p && c.state == State::ReqSent && rej.reason == wire::RejReason::InvalidServiceId) {
    count_drop(Drop::InvalidState, "REJ", "peer-to-peer: the peer does not listen yet");
    return;
  }
  State prior = c.state;
  emit_for(c, ev::RejReceived{c.local_id, prior, rej});
  if (rej.reason == wire::RejReason::StaleConnection) {
    // The peer still holds a connection for our QP: keep it out of use for TIMEWAIT.
    if (c.p2p) remove_p2p(idx);
    enter_timewait(c, idx);
  } else {
    free_conn(idx);
  }
}

void Cm::Impl::act_mra_wait(Conn& c, uint32_t idx, const wire::Mad& mad) {
  const auto& mra = std::get<wire::Mra>(mad.message);
  wire::MsgRef expected = c.state == State::ReqSent ? wire::MsgRef::Req : wire::MsgRef::Rep;
  if (mra.message_mraed != expected) {
    count_drop(Drop::InvalidState, "MRA", "MRA for a message we did not send last");
    return;
  }
  set_state(c, c.state == State::ReqSent ? State::MraReqRcvd : State::MraRepRcvd);
  arm(c, idx, cm_time(mra.service_timeout) + cm_time(c.plt));
  emit_for(c, ev::MraReceived{c.local_id, mra});
}

void Cm::Impl::act_rtu_establish(Conn& c, uint32_t idx, const wire::Mad& mad) {
  (void)idx;
  disarm(c);
  release_tx(c);
  set_state(c, State::Established);
  emit_for(c, ev::RtuReceived{c.local_id, std::get<wire::Rtu>(mad.message)});
  emit_for(c, ev::Established{c.local_id});
}

void Cm::Impl::act_retry_req(Conn& c, uint32_t idx) {
  if (c.retries_left > 0) {
    --c.retries_left;
    set_state(c, State::ReqSent);  // an MRA wait that ran out goes back to retrying
    resend_kept(c, true);
    arm(c, idx, retry_interval(c));
    return;
  }
  send_rej_timeout(c, wire::MsgRef::Req);
  emit_for(c, ev::ReqTimeout{c.local_id});
  free_conn(idx);
}

void Cm::Impl::act_retry_rep(Conn& c, uint32_t idx) {
  if (c.retries_left > 0) {
    --c.retries_left;
    set_state(c, State::RepSent);
    resend_kept(c, true);
    arm(c, idx, retry_interval(c));
    return;
  }
  send_rej_timeout(c, wire::MsgRef::Rep);
  emit_for(c, ev::RepTimeout{c.local_id});
  // Our QP may be in RTR with the peer's QPN: protect it for TIMEWAIT.
  enter_timewait(c, idx);
}

}  // namespace ibcm
