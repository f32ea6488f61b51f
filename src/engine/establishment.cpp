// Establishment, both sides: listening, connect (REQ), accept (REP), reject, MRA, RTU and
// establish; the REQ, MRA, REJ, REP and RTU received, the REQ and REP timers, peer-to-peer
// collisions and the half-open backlog; the messages of this phase and the QP attributes it sets.
#include <algorithm>
#include <bit>

#include "engine/cm_impl.h"
#include "ibcm/wire/time.h"

namespace ibcm {

using namespace engine;
using wire::cm_time;

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

std::optional<ListenId> Cm::Impl::match_listener(uint64_t sid) const {
  // The most specific listener that matches (the most mask bits) takes the request, whatever
  // the order they were made in: a catch-all beside exact listeners sees only what they do not.
  std::optional<ListenId> best;
  int best_bits = -1;
  for (uint32_t i = 0; i < listeners_.items.size(); ++i) {
    const auto& l = listeners_.items[i];
    if (!l.used || (sid & l.mask) != (l.service_id & l.mask)) continue;
    int bits = std::popcount(l.mask);
    if (bits == 64) return i + 1;
    if (bits > best_bits) {
      best = i + 1;
      best_bits = bits;
    }
  }
  return best;
}

Expected<ListenId, Error> Cm::Impl::listen(uint64_t service_id, uint64_t mask) {
  for (const auto& l : listeners_.items)
    if (l.used && l.mask == mask && (l.service_id & mask) == (service_id & mask))
      return fail(Error::ServiceInUse);
  if (listeners_.live >= cfg_.max_listeners) return fail(Error::LimitReached);
  uint32_t i = listeners_.alloc();
  listeners_.items[i] = Listener{service_id, mask, true};
  return ListenId{i + 1};
}

Status Cm::Impl::unlisten(ListenId id) {
  if (id == 0 || id > listeners_.items.size() || !listeners_.items[id - 1].used)
    return fail(Error::UnknownListener);
  listeners_.items[id - 1] = Listener{};
  listeners_.release(id - 1);
  return Ok{};
}

wire::Req req_of(const ConnectParams& p, uint32_t local_comm_id, uint64_t ca_guid,
                 uint8_t local_cm_response_timeout) {
  wire::Req r;
  r.local_comm_id = local_comm_id;
  r.vendor_id = p.vendor_id & kMax24Bits;
  r.service_id = p.service_id;
  r.local_ca_guid = ca_guid;
  r.local_qkey = p.qkey;
  r.local_qpn = p.qpn;
  r.responder_resources = p.responder_resources;
  r.initiator_depth = p.initiator_depth;
  r.remote_cm_response_timeout = p.remote_cm_response_timeout & 31;
  r.transport_service_type = p.transport;
  r.end_to_end_flow_control = p.flow_control;
  r.starting_psn = p.psn;
  r.local_cm_response_timeout = local_cm_response_timeout & 31;
  r.retry_count = p.retry_count & 7;
  r.partition_key = p.pkey;
  r.path_mtu = p.mtu;
  r.rnr_retry_count = p.rnr_retry_count & 7;
  r.max_cm_retries = p.max_cm_retries;
  r.srq = p.srq;
  r.extended_transport_type = p.extended;
  r.primary = p.primary;
  // No ACK timeout given: one that covers about two packet lifetimes.
  if (r.primary.local_ack_timeout == 0)
    r.primary.local_ack_timeout = static_cast<uint8_t>(std::min(31, (p.packet_life_time & 31) + 1));
  if (p.alternate) r.alternate = *p.alternate;
  copy_pd(r.private_data, p.private_data);
  return r;
}

Expected<ConnId, Error> Cm::Impl::connect(Time now, const ConnectParams& p) {
  handle_timeout(now);
  // A reserved MTU or packet rate encoding is what a passive side answers with REJ 26, 17 or 23:
  // not sent at all.
  if (p.qpn == 0 || p.qpn > kMax24Bits || p.psn > kMax24Bits || p.max_cm_retries > 15 ||
      p.mtu == wire::Mtu::None || p.mtu > wire::Mtu::Mtu4096 ||
      reserved_rate(p.primary.packet_rate) ||
      (p.alternate && reserved_rate(p.alternate->packet_rate)))
    return fail(Error::InvalidArgument);
  if (p.private_data.size() > 92) return fail(Error::PrivateDataTooLong);
  if (auto busy = local_qpn_busy(p.qpn)) return fail(*busy);
  if (conns_.live >= cfg_.max_connections) return fail(Error::LimitReached);

  uint32_t idx = new_conn();
  Conn& c = conns_.items[idx];
  c.active = true;
  c.p2p = p.peer_to_peer;
  c.peer = p.dest;
  c.service_id = p.service_id;
  c.tid = new_tid();
  c.packet_lifetime = p.packet_life_time & 31;
  c.peer_resp = p.remote_cm_response_timeout & 31;
  c.max_retries = c.retries_left = p.max_cm_retries;
  bind_local_qpn(c, idx, p.qpn);

  wire::Req r = req_of(p, c.local_id, cfg_.ca_guid, cfg_.cm_response_timeout);

  Setup& s = setup_[idx];
  s.primary = r.primary;
  if (p.alternate) alts_for(idx).alternate = p.alternate;
  s.mtu = p.mtu;
  s.transport = p.transport;
  s.local_psn = p.psn;
  s.qkey = p.qkey;
  s.pkey = p.pkey;
  s.max_rd_atomic = p.initiator_depth;
  s.max_dest_rd_atomic = p.responder_resources;
  s.retry_count = p.retry_count;
  s.rnr_retry = p.rnr_retry_count;
  update_ack_timeout(idx);

  set_state(c, State::ReqSent);
  send_req(c, idx, r);
  if (c.p2p) p2p_pending_.push_back(idx);
  return c.local_id;
}

Status Cm::Impl::accept(Time now, ConnId id, const AcceptParams& p) {
  auto call = begin_call(now, id, Call::Accept);  // SendRep
  if (!call) return fail(call.error());
  Conn& c = *call->c;
  const uint32_t idx = call->idx;
  if (p.qpn == 0 || p.qpn > kMax24Bits || p.psn > kMax24Bits) return fail(Error::InvalidArgument);
  if (p.private_data.size() > 196) return fail(Error::PrivateDataTooLong);
  // A peer-to-peer connection turned passive already holds its QPN.
  bool own_qpn = c.in_lqpn_map && c.local_qpn == p.qpn;
  if (!own_qpn) {
    if (auto busy = local_qpn_busy(p.qpn)) return fail(*busy);
    unbind_local_qpn(c, idx);
    bind_local_qpn(c, idx, p.qpn);
  }

  auto r = message_of<wire::Rep>(c, p.private_data);
  r.local_qkey = p.qkey;
  r.local_qpn = p.qpn;
  r.vendor_id_high = static_cast<uint8_t>(p.vendor_id >> 16);
  r.vendor_id_mid = static_cast<uint8_t>(p.vendor_id >> 8);
  r.vendor_id_low = static_cast<uint8_t>(p.vendor_id);
  r.starting_psn = p.psn;
  r.responder_resources = p.responder_resources;
  r.initiator_depth = p.initiator_depth;
  r.target_ack_delay = p.target_ack_delay & 31;
  r.failover_accepted = p.failover_accepted & 3;
  r.end_to_end_flow_control = p.flow_control;
  r.rnr_retry_count = p.rnr_retry_count & 7;
  r.srq = p.srq;
  r.local_ca_guid = cfg_.ca_guid;

  Setup& s = setup_[idx];
  s.local_psn = p.psn;
  s.max_rd_atomic = std::min(s.max_rd_atomic, p.initiator_depth);
  s.max_dest_rd_atomic = p.responder_resources;
  if (AltPaths* a = alts(idx); a && p.failover_accepted != 0) a->alternate.reset();
  update_ack_timeout(idx);

  c.retries_left = c.max_retries;
  set_state(c, State::RepSent);
  keep_tx(c, r, c.tid);
  arm(c, idx, retry_interval(c));
  return Ok{};
}

Status Cm::Impl::reject(Time now, ConnId id, wire::RejReason reason, std::span<const uint8_t> ari,
                        std::span<const uint8_t> pd) {
  auto call = begin_call(now, id, Call::Reject);  // RejectReq or RejectRep
  if (!call) return fail(call.error());
  if (ari.size() > wire::kAriSize || pd.size() > 148) return fail(Error::PrivateDataTooLong);
  const auto what = call->act == CallAct::RejectReq ? wire::MsgRef::Req : wire::MsgRef::Rep;
  reject_conn(*call->c, call->idx, what, reason, ari, pd, false);
  return Ok{};
}

void Cm::Impl::reject_conn(Conn& c, uint32_t idx, wire::MsgRef rejected, wire::RejReason reason,
                           std::span<const uint8_t> ari, std::span<const uint8_t> pd,
                           bool keep_qpn) {
  send_msg(c.peer, make_rej(c, rejected, reason, ari, pd), c.tid);
  if (keep_qpn)
    enter_timewait(c, idx);
  else
    free_conn(idx);
}

Status Cm::Impl::send_mra(Time now, ConnId id, uint8_t service_timeout,
                          std::span<const uint8_t> pd) {
  auto call = begin_call(now, id, Call::SendMra);  // MraReq, MraRep or MraLap
  if (!call) return fail(call.error());
  if (pd.size() > 222) return fail(Error::PrivateDataTooLong);
  Conn& c = *call->c;
  wire::MsgRef what = wire::MsgRef::Other;
  switch (call->act) {
    case CallAct::MraReq:
      what = wire::MsgRef::Req;
      set_state(c, State::MraReqSent);
      break;
    case CallAct::MraRep:
      what = wire::MsgRef::Rep;
      set_state(c, State::MraRepSent);
      break;
    default:  // MraLap
      c.lap = LapState::MraLapSent;
      break;
  }
  keep_tx(c, make_mra(c, what, service_timeout, pd), c.tid);
  return Ok{};
}

Status Cm::Impl::send_rtu(Time now, ConnId id, std::span<const uint8_t> pd) {
  auto call = begin_call(now, id, Call::SendRtu);  // SendRtu
  if (!call) return fail(call.error());
  if (pd.size() > 224) return fail(Error::PrivateDataTooLong);
  if (lacks_room(1, 0) == Drop::EventQueueFull) return fail(Error::QueueFull);
  Conn& c = *call->c;
  release_tx(c);
  send_msg(c.peer, message_of<wire::Rtu>(c, pd), c.tid);
  make_established(c);
  return Ok{};
}

Status Cm::Impl::establish(Time now, ConnId id) {
  auto call = begin_call(now, id, Call::Establish);  // Establish
  if (!call) return fail(call.error());
  if (lacks_room(1, 0) == Drop::EventQueueFull) return fail(Error::QueueFull);
  Conn& c = *call->c;
  disarm(c);
  release_tx(c);
  make_established(c);
  return Ok{};
}

void Cm::Impl::make_established(Conn& c) {
  set_state(c, State::Established);
  emit_for(c, ev::Established{c.local_id});
}

void Cm::Impl::resend_rtu(Conn& c) {
  if (!c.active) {
    count_drop(Drop::InvalidState, "REP", "REP on the passive side");
    return;
  }
  send_msg(c.peer, message_of<wire::Rtu>(c, {}), c.tid);
}

Expected<QpAttr, Error> Cm::Impl::qp_attributes(ConnId id, QpState target) const {
  const uint32_t* i = by_local_.find(id);
  if (!i) return fail(Error::UnknownConnection);
  const Conn& c = conns_.items[*i];
  const Setup& s = setup_[*i];
  QpAttr a;
  a.state = target;
  a.pkey = s.pkey;
  a.qkey = s.qkey;
  if (target == QpState::Init || target == QpState::Err) return a;
  bool remote_known = c.remote_qpn != 0;
  if (!remote_known || c.state == State::Idle || c.state == State::TimeWait)
    return fail(Error::InvalidState);
  a.dest_qpn = c.remote_qpn;
  // The Starting PSN a REQ or REP carries is the PSN its sender's receive queue expects: the
  // peer starts sending with it. Linux reads it so (cm.c: the active side's rq_psn is its REQ's
  // Starting PSN, the passive side's sq_psn the REQ's), and a QP set up the other way is NAKed
  // with a PSN sequence error on its first send (docs/engine.md).
  a.rq_psn = s.local_psn;
  a.path_mtu = s.mtu;
  a.max_dest_rd_atomic = s.max_dest_rd_atomic;
  a.min_rnr_timer = s.min_rnr_timer;
  a.primary = s.primary;
  if (const AltPaths* alt = alts(*i)) a.alternate = alt->alternate;
  if (target == QpState::Rtr) return a;
  a.sq_psn = s.remote_psn;
  a.timeout = s.primary.local_ack_timeout;
  a.retry_count = s.retry_count;
  a.rnr_retry = s.rnr_retry;
  a.max_rd_atomic = s.max_rd_atomic;
  return a;
}

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
  c.packet_lifetime = req.primary.local_ack_timeout > 0 ? req.primary.local_ack_timeout - 1 : 0;
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

void Cm::Impl::evict_oldest_half_open() {
  const uint32_t idx = ho_head_;
  Conn& c = conns_.items[idx];
  // The REQ we answer (REQ_RCVD, MRA_REQ_SENT) or the REP we sent (REP_SENT, MRA_REP_RCVD).
  const bool rep_sent = c.state == State::RepSent || c.state == State::MraRepRcvd;
  ++counters_.half_open_evicted;
  emit_for(c, ev::Aborted{c.local_id, wire::RejReason::NoResources});
  reject_conn(c, idx, rep_sent ? wire::MsgRef::Rep : wire::MsgRef::Req,
              wire::RejReason::NoResources, {}, {}, false);
}

void Cm::Impl::reject_req(const Address& from, const wire::Mad& mad, wire::RejReason reason,
                          std::span<const uint8_t> ari, ConnId from_conn) {
  send_rej_to(from, mad.header.transaction_id, wire::MsgRef::Req,
              std::get<wire::Req>(mad.message).local_comm_id, from_conn, reason, ari);
}

void Cm::Impl::send_rej_to(const Address& to, uint64_t tid, wire::MsgRef rejected,
                           uint32_t their_id, ConnId our_id, wire::RejReason reason,
                           std::span<const uint8_t> ari) {
  wire::Rej r;
  r.local_comm_id = our_id;
  r.remote_comm_id = their_id;
  r.message_rejected = rejected;
  r.reason = reason;
  r.rejected_info_length = static_cast<uint8_t>(std::min(ari.size(), wire::kAriSize));
  std::copy_n(ari.begin(), r.rejected_info_length, r.ari.begin());
  if (reason == wire::RejReason::StaleConnection) ++counters_.rej_sent_stale;
  send_msg(to, r, tid);
}

void Cm::Impl::send_rej_timeout(const Conn& c, wire::MsgRef rejected) {
  // REJ 4 names the CA that timed out: its GUID in the ARI.
  uint8_t ari[8];
  for (int i = 0; i < 8; ++i) ari[i] = static_cast<uint8_t>(cfg_.ca_guid >> (56 - 8 * i));
  send_msg(c.peer, make_rej(c, rejected, wire::RejReason::Timeout, ari, {}), c.tid);
}

void Cm::Impl::act_rep_accept(Conn& c, uint32_t idx, const Address& from, const wire::Mad& mad) {
  const auto& rep = std::get<wire::Rep>(mad.message);
  if (const uint32_t* old = by_rqpn_.find(QpKey{rep.local_qpn, rep.local_ca_guid});
      old && *old != idx) {
    // The REP's QP still has a connection here: REJ 10 for this REP, DREQ for the old one (if
    // the REP comes from its peer), and our own attempt stops (its REQ retries too) and waits out
    // TIMEWAIT: a REP whose QPN claim conflicts cannot set up a connection either way.
    uint32_t old_idx = *old;
    send_rej_to(from, mad.header.transaction_id, wire::MsgRef::Rep, rep.local_comm_id, c.local_id,
                wire::RejReason::StaleConnection);
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
  arm(c, idx, cm_time(mra.service_timeout) + cm_time(c.packet_lifetime));
  emit_for(c, ev::MraReceived{c.local_id, mra});
}

void Cm::Impl::act_rtu_establish(Conn& c, const wire::Mad& mad) {
  disarm(c);
  release_tx(c);
  emit_for(c, ev::RtuReceived{c.local_id, std::get<wire::Rtu>(mad.message)});
  make_established(c);
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

wire::Rej Cm::Impl::make_rej(const Conn& c, wire::MsgRef rejected, wire::RejReason reason,
                             std::span<const uint8_t> ari, std::span<const uint8_t> pd) const {
  auto r = message_of<wire::Rej>(c, pd);
  r.message_rejected = rejected;
  r.reason = reason;
  r.rejected_info_length = static_cast<uint8_t>(std::min(ari.size(), wire::kAriSize));
  copy_pd(r.ari, ari);
  return r;
}

wire::Mra Cm::Impl::make_mra(const Conn& c, wire::MsgRef what, uint8_t service_timeout,
                             std::span<const uint8_t> pd) const {
  auto m = message_of<wire::Mra>(c, pd);
  m.message_mraed = what;
  m.service_timeout = service_timeout & 31;
  return m;
}

}  // namespace ibcm
