// The consumer API: each call checks the connection's state, sends, and moves the state on.
#include <algorithm>
#include <bit>

#include "engine/impl.h"
#include "ibcm/wire/time.h"

namespace ibcm {

using namespace engine;
using wire::cm_time;

namespace {
constexpr uint32_t k24 = 0xFFFFFF;
Unexpected<Error> fail(Error e) {
  return Unexpected{e};
}
void copy_pd(std::span<uint8_t> dst, std::span<const uint8_t> src) {
  std::copy_n(src.begin(), std::min(src.size(), dst.size()), dst.begin());
}
bool in(State s, std::initializer_list<State> states) {
  return std::find(states.begin(), states.end(), s) != states.end();
}
}  // namespace

Cm::Cm(const Config& config) : impl_(std::make_unique<Impl>(config)) {}
Cm::~Cm() = default;
Cm::Cm(Cm&&) noexcept = default;
Cm& Cm::operator=(Cm&&) noexcept = default;

void Cm::handle_mad(Time now, const Address& from, std::span<const uint8_t> mad) {
  impl_->handle_mad(now, from, mad);
}
void Cm::handle_mads(Time now, std::span<const Inbound> batch) {
  impl_->handle_mads(now, batch);
}
void Cm::handle_timeout(Time now) {
  impl_->handle_timeout(now);
}
std::optional<Time> Cm::next_timeout() const {
  return impl_->timers_.next_wakeup();
}
std::optional<Transmit> Cm::poll_transmit() {
  return impl_->tx_queue_.pop();
}
std::span<const Transmit> Cm::peek_transmits() const {
  return impl_->tx_queue_.front_span();
}
void Cm::consume_transmits(size_t n) {
  impl_->tx_queue_.drop_front(n);
}
std::optional<Event> Cm::poll_event() {
  const Event* e = impl_->events_.front();
  if (!e) return std::nullopt;
  // Copied by alternative, straight into the return value: an Event is a 320-byte variant, and
  // most events (Established, TimeWaitExit) hold a few bytes of it. Popped once copied.
  struct Pop {
    engine::Fifo<Event>& q;
    ~Pop() { q.drop_front(1); }
  } pop{impl_->events_};
  return std::visit([](const auto& x) { return std::optional<Event>(std::in_place, x); }, *e);
}
const Counters& Cm::counters() const {
  return impl_->counters_;
}
size_t Cm::connection_count() const {
  return impl_->conns_.live;
}
std::vector<ConnectionInfo> Cm::connections() const {
  std::vector<ConnectionInfo> out;
  out.reserve(impl_->conns_.live);
  for (const Conn& c : impl_->conns_.items) {
    if (c.local_id == 0) continue;  // a free slot (live IDs are never 0)
    out.push_back(ConnectionInfo{c.local_id, c.state, c.active, c.local_qpn, c.remote_qpn,
                                 c.remote_id, c.remote_guid, c.peer, c.timer != TimerWheel::kNone});
  }
  return out;
}

size_t Cm::timer_count() const {
  return impl_->timers_.size();
}
size_t Cm::sidr_count() const {
  return impl_->sidr_in_.live + impl_->sidr_out_.live;
}
const Config& Cm::config() const {
  return impl_->cfg_;
}
void Cm::set_logger(Logger log) {
  impl_->log_ = std::move(log);
}

std::optional<State> Cm::state(ConnId c) const {
  const Conn* p = impl_->find(c);
  return p ? std::optional(p->state) : std::nullopt;
}
std::optional<LapState> Cm::lap_state(ConnId c) const {
  const Conn* p = impl_->find(c);
  return p ? std::optional(p->lap) : std::nullopt;
}

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

Expected<ListenId, Error> Cm::listen(uint64_t service_id, uint64_t mask) {
  auto& ls = impl_->listeners_;
  for (const auto& l : ls.items)
    if (l.used && l.mask == mask && (l.service_id & mask) == (service_id & mask))
      return fail(Error::ServiceInUse);
  if (ls.live >= impl_->cfg_.max_listeners) return fail(Error::LimitReached);
  uint32_t i = ls.alloc();
  ls.items[i] = Listener{service_id, mask, true};
  return ListenId{i + 1};
}

Status Cm::unlisten(ListenId id) {
  auto& ls = impl_->listeners_;
  if (id == 0 || id > ls.items.size() || !ls.items[id - 1].used)
    return fail(Error::UnknownListener);
  ls.items[id - 1] = Listener{};
  ls.release(id - 1);
  return Ok{};
}

wire::Req req_of(const ConnectParams& p, uint32_t local_comm_id, uint64_t ca_guid,
                 uint8_t local_cm_response_timeout) {
  wire::Req r;
  r.local_comm_id = local_comm_id;
  r.vendor_id = p.vendor_id & k24;
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

Expected<ConnId, Error> Cm::connect(Time now, const ConnectParams& p) {
  Impl& m = *impl_;
  m.handle_timeout(now);
  // A reserved MTU encoding is what a passive side answers with REJ 26: not sent at all.
  if (p.qpn == 0 || p.qpn > k24 || p.psn > k24 || p.max_cm_retries > 15 ||
      p.mtu == wire::Mtu::None || p.mtu > wire::Mtu::Mtu4096)
    return fail(Error::InvalidArgument);
  if (p.private_data.size() > 92) return fail(Error::PrivateDataTooLong);
  if (auto busy = m.local_qpn_busy(p.qpn)) return fail(*busy);
  if (m.conns_.live >= m.cfg_.max_connections) return fail(Error::LimitReached);

  uint32_t idx = m.new_conn();
  Conn& c = m.conns_.items[idx];
  c.active = true;
  c.p2p = p.peer_to_peer;
  c.peer = p.dest;
  c.service_id = p.service_id;
  c.tid = m.new_tid();
  c.plt = p.packet_life_time & 31;
  c.peer_resp = p.remote_cm_response_timeout & 31;
  c.max_retries = c.retries_left = p.max_cm_retries;
  m.bind_local_qpn(c, idx, p.qpn);

  wire::Req r = req_of(p, c.local_id, m.cfg_.ca_guid, m.cfg_.cm_response_timeout);

  Setup& s = m.setup_[idx];
  s.primary = r.primary;
  if (p.alternate) m.alts_for(idx).alternate = p.alternate;
  s.mtu = p.mtu;
  s.transport = p.transport;
  s.local_psn = p.psn;
  s.qkey = p.qkey;
  s.pkey = p.pkey;
  s.max_rd_atomic = p.initiator_depth;
  s.max_dest_rd_atomic = p.responder_resources;
  s.retry_count = p.retry_count;
  s.rnr_retry = p.rnr_retry_count;
  m.update_ack_timeout(idx);

  m.set_state(c, State::ReqSent);
  m.keep_tx(c, r, c.tid);
  m.arm(c, idx, m.retry_interval(c));
  if (c.p2p) m.p2p_pending_.push_back(idx);
  return c.local_id;
}

Status Cm::accept(Time now, ConnId id, const AcceptParams& p) {
  Impl& m = *impl_;
  m.handle_timeout(now);
  uint32_t idx;
  Conn* c = m.find(id, &idx);
  if (!c) return fail(Error::UnknownConnection);
  if (!in(c->state, {State::ReqRcvd, State::MraReqSent})) return fail(Error::InvalidState);
  if (p.qpn == 0 || p.qpn > k24 || p.psn > k24) return fail(Error::InvalidArgument);
  if (p.private_data.size() > 196) return fail(Error::PrivateDataTooLong);
  // A peer-to-peer connection turned passive already holds its QPN.
  bool own_qpn = c->in_lqpn_map && c->local_qpn == p.qpn;
  if (!own_qpn) {
    if (auto busy = m.local_qpn_busy(p.qpn)) return fail(*busy);
    m.unbind_local_qpn(*c, idx);
    m.bind_local_qpn(*c, idx, p.qpn);
  }

  wire::Rep r;
  r.local_comm_id = c->local_id;
  r.remote_comm_id = c->remote_id;
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
  r.local_ca_guid = m.cfg_.ca_guid;
  copy_pd(r.private_data, p.private_data);

  Setup& s = m.setup_[idx];
  s.local_psn = p.psn;
  s.max_rd_atomic = std::min(s.max_rd_atomic, p.initiator_depth);
  s.max_dest_rd_atomic = p.responder_resources;
  if (AltPaths* a = m.alts(idx); a && p.failover_accepted != 0) a->alternate.reset();
  m.update_ack_timeout(idx);

  c->retries_left = c->max_retries;
  m.set_state(*c, State::RepSent);
  m.keep_tx(*c, r, c->tid);
  m.arm(*c, idx, m.retry_interval(*c));
  return Ok{};
}

Status Cm::reject(Time now, ConnId id, wire::RejReason reason, std::span<const uint8_t> ari,
                  std::span<const uint8_t> pd) {
  Impl& m = *impl_;
  m.handle_timeout(now);
  uint32_t idx;
  Conn* c = m.find(id, &idx);
  if (!c) return fail(Error::UnknownConnection);
  wire::MsgRef what;
  if (in(c->state, {State::ReqRcvd, State::MraReqSent}))
    what = wire::MsgRef::Req;
  else if (in(c->state, {State::RepRcvd, State::MraRepSent}))
    what = wire::MsgRef::Rep;
  else
    return fail(Error::InvalidState);
  if (ari.size() > wire::kAriSize || pd.size() > 148) return fail(Error::PrivateDataTooLong);
  m.send_msg(c->peer, m.make_rej(*c, what, reason, ari, pd), c->tid);
  m.free_conn(idx);
  return Ok{};
}

Status Cm::send_mra(Time now, ConnId id, uint8_t service_timeout, std::span<const uint8_t> pd) {
  Impl& m = *impl_;
  m.handle_timeout(now);
  Conn* c = m.find(id);
  if (!c) return fail(Error::UnknownConnection);
  if (pd.size() > 222) return fail(Error::PrivateDataTooLong);
  wire::MsgRef what;
  if (c->state == State::ReqRcvd) {
    what = wire::MsgRef::Req;
    m.set_state(*c, State::MraReqSent);
  } else if (c->state == State::RepRcvd) {
    what = wire::MsgRef::Rep;
    m.set_state(*c, State::MraRepSent);
  } else if (c->state == State::Established && c->lap == LapState::LapRcvd) {
    what = wire::MsgRef::Other;
    c->lap = LapState::MraLapSent;
  } else {
    return fail(Error::InvalidState);
  }
  m.keep_tx(*c, m.make_mra(*c, what, service_timeout, pd), c->tid);
  return Ok{};
}

Status Cm::send_rtu(Time now, ConnId id, std::span<const uint8_t> pd) {
  Impl& m = *impl_;
  m.handle_timeout(now);
  Conn* c = m.find(id);
  if (!c) return fail(Error::UnknownConnection);
  if (!in(c->state, {State::RepRcvd, State::MraRepSent})) return fail(Error::InvalidState);
  if (pd.size() > 224) return fail(Error::PrivateDataTooLong);
  if (m.lacks_room(1, 0) == Drop::EventQueueFull) return fail(Error::QueueFull);
  m.release_tx(*c);
  m.send_msg(c->peer, m.make_rtu(*c, pd), c->tid);
  m.set_state(*c, State::Established);
  m.emit_for(*c, ev::Established{c->local_id});
  return Ok{};
}

Status Cm::establish(Time now, ConnId id) {
  Impl& m = *impl_;
  m.handle_timeout(now);
  Conn* c = m.find(id);
  if (!c) return fail(Error::UnknownConnection);
  if (!in(c->state, {State::RepSent, State::MraRepRcvd})) return fail(Error::InvalidState);
  if (m.lacks_room(1, 0) == Drop::EventQueueFull) return fail(Error::QueueFull);
  m.disarm(*c);
  m.release_tx(*c);
  m.set_state(*c, State::Established);
  m.emit_for(*c, ev::Established{c->local_id});
  return Ok{};
}

Status Cm::disconnect(Time now, ConnId id, std::span<const uint8_t> pd) {
  Impl& m = *impl_;
  m.handle_timeout(now);
  uint32_t idx;
  Conn* c = m.find(id, &idx);
  if (!c) return fail(Error::UnknownConnection);
  if (c->state != State::Established) return fail(Error::InvalidState);
  if (pd.size() > 220) return fail(Error::PrivateDataTooLong);
  m.disarm(*c);  // a LAP in flight is abandoned
  c->lap = LapState::Idle;
  m.end_lap(idx, false);
  c->retries_left = c->max_retries;
  m.set_state(*c, State::DreqSent);
  m.keep_tx(*c, m.make_dreq(*c, pd), m.new_tid());
  m.arm(*c, idx, m.retry_interval(*c));
  return Ok{};
}

Status Cm::send_drep(Time now, ConnId id, std::span<const uint8_t> pd) {
  Impl& m = *impl_;
  m.handle_timeout(now);
  uint32_t idx;
  Conn* c = m.find(id, &idx);
  if (!c) return fail(Error::UnknownConnection);
  if (c->state != State::DreqRcvd) return fail(Error::InvalidState);
  if (pd.size() > 224) return fail(Error::PrivateDataTooLong);
  m.send_msg(c->peer, m.make_drep(*c, pd), c->tid);
  m.enter_timewait(*c, idx);
  return Ok{};
}

Status Cm::load_alternate_path(Time now, ConnId id, const wire::PathInfo& alt,
                               std::span<const uint8_t> pd) {
  Impl& m = *impl_;
  m.handle_timeout(now);
  uint32_t idx;
  Conn* c = m.find(id, &idx);
  if (!c) return fail(Error::UnknownConnection);
  if (c->state != State::Established || c->lap != LapState::Idle) return fail(Error::InvalidState);
  if (pd.size() > 168) return fail(Error::PrivateDataTooLong);
  wire::Lap l;
  l.local_comm_id = c->local_id;
  l.remote_comm_id = c->remote_id;
  l.remote_qpn = c->remote_qpn;
  l.remote_cm_response_timeout = c->peer_resp;
  l.alternate = alt;
  copy_pd(l.private_data, pd);
  m.alts_for(idx).pending = alt;
  c->tid = m.new_tid();
  c->retries_left = c->max_retries;
  c->lap = LapState::LapSent;
  m.keep_tx(*c, l, c->tid);
  m.arm(*c, idx, m.retry_interval(*c));
  return Ok{};
}

Status Cm::send_apr(Time now, ConnId id, wire::ApStatus status, std::span<const uint8_t> info,
                    std::span<const uint8_t> pd) {
  Impl& m = *impl_;
  m.handle_timeout(now);
  uint32_t idx;
  Conn* c = m.find(id, &idx);
  if (!c) return fail(Error::UnknownConnection);
  if (c->state != State::Established ||
      (c->lap != LapState::LapRcvd && c->lap != LapState::MraLapSent))
    return fail(Error::InvalidState);
  if (info.size() > wire::kAriSize || pd.size() > 148) return fail(Error::PrivateDataTooLong);
  wire::Apr a;
  a.local_comm_id = c->local_id;
  a.remote_comm_id = c->remote_id;
  a.ap_status = status;
  a.additional_information_length = static_cast<uint8_t>(info.size());
  copy_pd(a.additional_information, info);
  copy_pd(a.private_data, pd);
  m.end_lap(idx, status == wire::ApStatus::Success);
  m.release_tx(*c);
  c->lap = LapState::Idle;
  m.send_msg(c->peer, a, c->tid);
  return Ok{};
}

Status Cm::migrate(ConnId id) {
  Impl& m = *impl_;
  uint32_t idx;
  Conn* c = m.find(id, &idx);
  if (!c) return fail(Error::UnknownConnection);
  AltPaths* alts = m.alts(idx);
  if (c->state != State::Established || !alts || !alts->alternate) return fail(Error::InvalidState);
  // After migration the old primary is gone; the spec's APM re-arms with a new LAP.
  m.setup_[idx].primary = *alts->alternate;
  alts->alternate.reset();
  m.update_ack_timeout(idx);
  return Ok{};
}

Expected<SidrId, Error> Cm::sidr_request(Time now, const SidrParams& p) {
  Impl& m = *impl_;
  m.handle_timeout(now);
  if (p.private_data.size() > 216) return fail(Error::PrivateDataTooLong);
  Time timeout = p.timeout.value_or(m.cfg_.sidr_timeout);
  if (timeout <= Time{0}) return fail(Error::InvalidArgument);
  if (m.sidr_out_.live >= m.cfg_.max_sidr) return fail(Error::LimitReached);
  uint32_t request_id;
  do {
    request_id = static_cast<uint32_t>(splitmix64(m.rng_));
  } while (request_id == 0 || m.sidr_out_by_id_.find(request_id));
  uint32_t idx = m.sidr_out_.alloc();
  SidrOut& s = m.sidr_out_.items[idx];
  s.request_id = request_id;
  s.dest = p.dest;
  s.tid = m.new_tid();
  s.timeout = timeout;
  s.retries_left = p.max_retries.value_or(m.cfg_.sidr_retries);
  wire::SidrReq r;
  r.request_id = request_id;
  r.partition_key = p.pkey;
  r.service_id = p.service_id;
  copy_pd(r.private_data, p.private_data);
  s.tx = m.tx_bufs_.alloc();
  wire::encode_send(r, s.tid, m.tx_bufs_.items[s.tx]);
  m.send_bytes(s.dest, m.tx_bufs_.items[s.tx], static_cast<uint16_t>(wire::AttrId::SidrReq), false);
  m.sidr_out_by_id_.insert(request_id, idx);
  s.timer = m.timers_.arm(m.now_ + s.timeout, timer_cookie(TimerKind::SidrOut, idx));
  return request_id;
}

Status Cm::sidr_reply(Time now, SidrId id, const SidrReplyParams& p) {
  Impl& m = *impl_;
  m.handle_timeout(now);
  const uint32_t* i = m.sidr_in_by_handle_.find(id);
  if (!i) return fail(Error::UnknownSidr);
  SidrIn& s = m.sidr_in_.items[*i];
  if (s.tx != kNoIndex) return fail(Error::InvalidState);  // answered already
  if (p.qpn > k24) return fail(Error::InvalidArgument);
  if (p.additional_info.size() > wire::kAriSize || p.private_data.size() > 136)
    return fail(Error::PrivateDataTooLong);
  wire::SidrRep r;
  r.request_id = s.key.id;
  r.status = p.status;
  r.qpn = p.qpn;
  r.qkey = p.qkey;
  r.service_id = s.service_id;
  r.additional_information_length = static_cast<uint8_t>(p.additional_info.size());
  copy_pd(r.additional_information, p.additional_info);
  copy_pd(r.private_data, p.private_data);
  s.tx = m.tx_bufs_.alloc();
  wire::encode_send(r, s.tid, m.tx_bufs_.items[s.tx]);
  m.send_bytes(s.from, m.tx_bufs_.items[s.tx], static_cast<uint16_t>(wire::AttrId::SidrRep), false);
  return Ok{};
}

void Cm::destroy(Time now, ConnId id) {
  Impl& m = *impl_;
  m.handle_timeout(now);
  uint32_t idx;
  Conn* c = m.find(id, &idx);
  if (!c) return;
  c->detached = true;
  switch (c->state) {
    case State::Idle:
      m.free_conn(idx);
      return;
    case State::ReqSent:
    case State::MraReqRcvd:
      // As Linux does: the peer learns the attempt is over through a REJ 4 naming our CA.
      m.send_rej_timeout(*c, wire::MsgRef::Req);
      m.free_conn(idx);
      return;
    case State::ReqRcvd:
    case State::MraReqSent:
      m.send_msg(c->peer,
                 m.make_rej(*c, wire::MsgRef::Req, wire::RejReason::ConsumerDefined, {}, {}),
                 c->tid);
      m.free_conn(idx);
      return;
    case State::RepRcvd:
    case State::MraRepSent:
      m.send_msg(c->peer,
                 m.make_rej(*c, wire::MsgRef::Rep, wire::RejReason::ConsumerDefined, {}, {}),
                 c->tid);
      m.free_conn(idx);
      return;
    case State::RepSent:
    case State::MraRepRcvd:
      // The peer may already use the connection: REJ, then keep the QPN out of use.
      m.send_msg(c->peer,
                 m.make_rej(*c, wire::MsgRef::Rep, wire::RejReason::ConsumerDefined, {}, {}),
                 c->tid);
      m.enter_timewait(*c, idx);
      return;
    case State::Established:
      m.send_msg(c->peer, m.make_dreq(*c, {}), m.new_tid());
      m.enter_timewait(*c, idx);
      return;
    case State::DreqSent:
      m.enter_timewait(*c, idx);
      return;
    case State::DreqRcvd:
      m.send_msg(c->peer, m.make_drep(*c, {}), c->tid);
      m.enter_timewait(*c, idx);
      return;
    case State::TimeWait:
    case State::kCount:
      return;  // TIMEWAIT runs out on its own and frees the record
  }
}

Expected<QpAttr, Error> Cm::qp_attributes(ConnId id, QpState target) const {
  const Impl& m = *impl_;
  const uint32_t* i = m.by_local_.find(id);
  if (!i) return fail(Error::UnknownConnection);
  const Conn& c = m.conns_.items[*i];
  const Setup& s = m.setup_[*i];
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
  if (const AltPaths* alts = m.alts(*i)) a.alternate = alts->alternate;
  if (target == QpState::Rtr) return a;
  a.sq_psn = s.remote_psn;
  a.timeout = s.primary.local_ack_timeout;
  a.retry_count = s.retry_count;
  a.rnr_retry = s.rnr_retry;
  a.max_rd_atomic = s.max_rd_atomic;
  return a;
}

}  // namespace ibcm
