// Shared machinery of the engine: records, maps, timers, output queues, message builders.
#include <algorithm>
#include <cstring>

#include "engine/impl.h"
#include "ibcm/wire/time.h"

namespace ibcm {

using namespace engine;
using wire::cm_time;

size_t engine::SidrKeyHash::operator()(const SidrKey& k) const {
  uint64_t a, b;
  std::memcpy(&a, k.gid.data(), 8);
  std::memcpy(&b, k.gid.data() + 8, 8);
  return hash_fields(k.id, a, b);
}

Cm::Impl::Impl(const Config& c)
    : cfg_(c),
      rng_(c.seed ^ 0x7469642d73656564ull),
      timers_(Time{0}),
      hash_seed_(mix64(c.seed ^ 0x6c6f6f6b75702d6bull)),
      by_local_(c.seed, LocalIdOf{&conns_.items}),
      by_remote_(RemoteKeyOf{&conns_.items}, RemoteKeyHash{hash_seed_}),
      by_rqpn_(RemoteQpnOf{&conns_.items}, QpKeyHash{hash_seed_}) {
  event_limit_ = std::max<size_t>(c.max_pending_events, kMadEvents);
  tx_limit_ = std::max<size_t>(c.max_pending_tx, kMadTx);
  if (const size_t n = std::min(c.expected_connections, c.max_connections)) {
    conns_.items.reserve(n);
    setup_.reserve(n);
    by_local_.reserve(n);
    by_remote_.reserve(n);
    by_rqpn_.reserve(n);
  }
}

void Cm::Impl::log(LogLevel level, const std::string& msg) {
  if (log_) log_(level, msg);
}

void Cm::Impl::count_drop(Drop d, std::string_view msg_name, std::string_view why) {
  ++counters_.drop(d);
  if (log_) {
    std::string line = "drop ";
    line += msg_name;
    line += ": ";
    line += why;
    log_(LogLevel::Info, line);
  }
}

uint64_t Cm::Impl::new_tid() {
  return splitmix64(rng_);
}

std::optional<Drop> Cm::Impl::lacks_room(size_t events, size_t tx) const {
  if (events_.size() + events > event_limit_) return Drop::EventQueueFull;
  if (tx_queue_.size() + tx > tx_limit_) return Drop::TxQueueFull;
  return std::nullopt;
}

bool Cm::Impl::count_tx(uint16_t attr, bool retry) {
  if (tx_queue_.size() >= tx_limit_) {
    count_drop(Drop::TxQueueFull, wire::attr_name(attr), "transmit queue full");
    return false;
  }
  CountedMsg m = counted_msg(attr);
  if (m != CountedMsg::kCount) {
    ++counters_.of(m).tx;
    if (retry) ++counters_.of(m).tx_retries;
  }
  return true;
}

void Cm::Impl::send_bytes(const Address& to, const wire::MadBytes& bytes, uint16_t attr,
                          bool retry) {
  if (!count_tx(attr, retry)) return;
  Transmit& t = tx_queue_.push_slot();
  t.to = to;
  t.mad = bytes;
}

void Cm::Impl::send(const Address& to, const wire::Mad& mad) {
  if (!count_tx(static_cast<uint16_t>(wire::attr_of(mad.message)), false)) return;
  Transmit& t = tx_queue_.push_slot();
  t.to = to;
  wire::encode(mad, t.mad);
}

void Cm::Impl::release_tx(Conn& c) {
  if (c.tx != kNoIndex) tx_bufs_.release(c.tx);
  c.tx = kNoIndex;
}

void Cm::Impl::resend_kept(Conn& c, bool is_retry) {
  if (c.tx == kNoIndex) return;
  const auto& b = tx_bufs_.items[c.tx];
  send_bytes(c.peer, b, static_cast<uint16_t>(b[16] << 8 | b[17]), is_retry);
}

void Cm::Impl::arm(Conn& c, uint32_t idx, Time delay) {
  if (c.timer != TimerWheel::kNone) timers_.cancel(c.timer);
  c.timer = timers_.arm(now_ + delay, timer_cookie(TimerKind::Conn, idx));
}

void Cm::Impl::disarm(Conn& c) {
  if (c.timer != TimerWheel::kNone) timers_.cancel(c.timer);
  c.timer = TimerWheel::kNone;
}

Conn* Cm::Impl::find(ConnId id, uint32_t* idx) {
  const uint32_t* i = by_local_.find(id);
  if (!i) return nullptr;
  if (idx) *idx = *i;
  return &conns_.items[*i];
}

const Conn* Cm::Impl::find(ConnId id) const {
  const uint32_t* i = by_local_.find(id);
  return i ? &conns_.items[*i] : nullptr;
}

uint32_t Cm::Impl::new_conn() {
  uint32_t idx = conns_.alloc();
  if (setup_.size() < conns_.items.size()) setup_.resize(conns_.items.size());
  setup_[idx] = Setup{};
  Conn& c = conns_.items[idx];
  c.local_id = by_local_.take(idx);
  return idx;
}

void Cm::Impl::free_conn(uint32_t idx) {
  Conn& c = conns_.items[idx];
  // With many connections the two remote keys' slots are independent cache misses: let them
  // overlap. Each is hashed once, for its prefetch and its erase. Our own ID's slot is usually
  // still cached (local_ids.h).
  by_local_.prefetch(c.local_id);
  const uint64_t h_remote = c.in_remote_map ? by_remote_.hash({c.remote_id, c.remote_guid}) : 0;
  const uint64_t h_rqpn = c.in_rqpn_map ? by_rqpn_.hash({c.remote_qpn, c.remote_guid}) : 0;
  if (c.in_remote_map) by_remote_.prefetch_hashed(h_remote);
  if (c.in_rqpn_map) by_rqpn_.prefetch_hashed(h_rqpn);
  disarm(c);
  release_tx(c);
  if (c.half_open) half_open_remove(c);
  if (c.in_remote_map) by_remote_.erase_hashed(h_remote, idx);
  if (c.in_rqpn_map) by_rqpn_.erase_hashed(h_rqpn, idx);
  unbind_local_qpn(c, idx);
  if (c.p2p) remove_p2p(idx);
  by_local_.erase(c.local_id, idx);
  Setup& s = setup_[idx];
  if (s.alt != kNoIndex) {
    alts_.items[s.alt] = AltPaths{};
    alts_.release(s.alt);
    s.alt = kNoIndex;
  }
  c = Conn{};
  conns_.release(idx);
}

AltPaths& Cm::Impl::alts_for(uint32_t idx) {
  Setup& s = setup_[idx];
  if (s.alt == kNoIndex) s.alt = alts_.alloc();
  return alts_.items[s.alt];
}

void Cm::Impl::end_lap(uint32_t idx, bool loaded) {
  AltPaths* a = alts(idx);
  if (!a) return;
  if (loaded) a->alternate = a->pending;
  a->pending.reset();
  update_ack_timeout(idx);
}

void Cm::Impl::update_ack_timeout(uint32_t idx) {
  uint8_t t = setup_[idx].primary.local_ack_timeout;
  if (const AltPaths* a = alts(idx); a && a->alternate)
    t = std::max(t, a->alternate->local_ack_timeout);
  conns_.items[idx].ack_timeout = t;
}

bool Cm::Impl::is_peer_gid(uint32_t idx, const wire::Gid& gid) const {
  if (wire::same_gid(gid, conns_.items[idx].peer.gid)) return true;
  if (wire::same_gid(gid, wire::Gid{})) return false;  // an unset path names nobody
  if (wire::same_gid(gid, setup_[idx].primary.remote_gid)) return true;
  const AltPaths* a = alts(idx);
  return a && a->alternate && wire::same_gid(gid, a->alternate->remote_gid);
}

void Cm::Impl::set_state(Conn& c, State s) {
  if (c.half_open && s != State::ReqRcvd && s != State::MraReqSent && s != State::RepSent &&
      s != State::MraRepRcvd) {
    half_open_remove(c);
  }
  c.state = s;
}

void Cm::Impl::set_remote(Conn& c, uint32_t idx, uint32_t remote_id, uint64_t guid, uint32_t rqpn) {
  c.remote_id = remote_id;
  c.remote_guid = guid;
  c.remote_qpn = rqpn;
  c.in_remote_map = by_remote_.insert(RemoteKey{remote_id, guid}, idx);
  c.in_rqpn_map = by_rqpn_.insert(QpKey{rqpn, guid}, idx);
}

void Cm::Impl::half_open_add(Conn& c, uint32_t idx) {
  c.half_open = true;
  ++half_open_;
  c.ho_prev = ho_tail_;
  c.ho_next = kNoIndex;
  if (ho_tail_ != kNoIndex)
    conns_.items[ho_tail_].ho_next = idx;
  else
    ho_head_ = idx;
  ho_tail_ = idx;
}

void Cm::Impl::half_open_remove(Conn& c) {
  if (c.ho_prev != kNoIndex)
    conns_.items[c.ho_prev].ho_next = c.ho_next;
  else
    ho_head_ = c.ho_next;
  if (c.ho_next != kNoIndex)
    conns_.items[c.ho_next].ho_prev = c.ho_prev;
  else
    ho_tail_ = c.ho_prev;
  c.ho_prev = c.ho_next = kNoIndex;
  c.half_open = false;
  --half_open_;
}

void Cm::Impl::evict_oldest_half_open() {
  const uint32_t idx = ho_head_;
  Conn& c = conns_.items[idx];
  // The REQ we answer (REQ_RCVD, MRA_REQ_SENT) or the REP we sent (REP_SENT, MRA_REP_RCVD).
  const bool rep_sent = c.state == State::RepSent || c.state == State::MraRepRcvd;
  send_msg(c.peer,
           make_rej(c, rep_sent ? wire::MsgRef::Rep : wire::MsgRef::Req,
                    wire::RejReason::NoResources, {}, {}),
           c.tid);
  ++counters_.half_open_evicted;
  emit_for(c, ev::Aborted{c.local_id, wire::RejReason::NoResources});
  free_conn(idx);
}

void Cm::Impl::forget_remote_qpn(Conn& c, uint32_t idx) {
  if (!c.in_rqpn_map) return;
  by_rqpn_.erase(QpKey{c.remote_qpn, c.remote_guid}, idx);
  c.in_rqpn_map = false;
}

void Cm::Impl::bind_local_qpn(Conn& c, uint32_t idx, uint32_t qpn) {
  c.local_qpn = qpn;
  c.in_lqpn_map = by_lqpn_.insert(qpn, idx);
}

void Cm::Impl::unbind_local_qpn(Conn& c, uint32_t idx) {
  if (!c.in_lqpn_map) return;
  by_lqpn_.erase(c.local_qpn, idx);
  c.in_lqpn_map = false;
}

std::optional<Error> Cm::Impl::local_qpn_busy(uint32_t qpn) const {
  const uint32_t i = by_lqpn_.find(qpn);
  if (i == engine::QpnIndex::kNone) return std::nullopt;
  return conns_.items[i].state == State::TimeWait ? Error::QpnInTimeWait : Error::QpnInUse;
}

Time Cm::Impl::retry_interval(const Conn& c) const {
  return 2 * cm_time(c.plt) + cm_time(c.peer_resp);
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

namespace {
void copy_pd(std::span<uint8_t> dst, std::span<const uint8_t> src) {
  std::copy_n(src.begin(), std::min(src.size(), dst.size()), dst.begin());
}
}  // namespace

wire::Rej Cm::Impl::make_rej(const Conn& c, wire::MsgRef rejected, wire::RejReason reason,
                             std::span<const uint8_t> ari, std::span<const uint8_t> pd) const {
  wire::Rej r;
  r.local_comm_id = c.local_id;
  r.remote_comm_id = c.remote_id;
  r.message_rejected = rejected;
  r.reason = reason;
  r.rejected_info_length = static_cast<uint8_t>(std::min(ari.size(), wire::kAriSize));
  copy_pd(r.ari, ari);
  copy_pd(r.private_data, pd);
  return r;
}

wire::Dreq Cm::Impl::make_dreq(const Conn& c, std::span<const uint8_t> pd) const {
  wire::Dreq d;
  d.local_comm_id = c.local_id;
  d.remote_comm_id = c.remote_id;
  d.remote_qpn = c.remote_qpn;
  copy_pd(d.private_data, pd);
  return d;
}

wire::Drep Cm::Impl::make_drep(const Conn& c, std::span<const uint8_t> pd) const {
  wire::Drep d;
  d.local_comm_id = c.local_id;
  d.remote_comm_id = c.remote_id;
  copy_pd(d.private_data, pd);
  return d;
}

wire::Rtu Cm::Impl::make_rtu(const Conn& c, std::span<const uint8_t> pd) const {
  wire::Rtu r;
  r.local_comm_id = c.local_id;
  r.remote_comm_id = c.remote_id;
  copy_pd(r.private_data, pd);
  return r;
}

wire::Mra Cm::Impl::make_mra(const Conn& c, wire::MsgRef what, uint8_t service_timeout,
                             std::span<const uint8_t> pd) const {
  wire::Mra m;
  m.local_comm_id = c.local_id;
  m.remote_comm_id = c.remote_id;
  m.message_mraed = what;
  m.service_timeout = service_timeout & 31;
  copy_pd(m.private_data, pd);
  return m;
}

void Cm::Impl::send_rej_timeout(const Conn& c, wire::MsgRef rejected) {
  // REJ 4 names the CA that timed out: its GUID in the ARI.
  uint8_t ari[8];
  for (int i = 0; i < 8; ++i) ari[i] = static_cast<uint8_t>(cfg_.ca_guid >> (56 - 8 * i));
  send_msg(c.peer, make_rej(c, rejected, wire::RejReason::Timeout, ari, {}), c.tid);
}

void Cm::Impl::handle_timeout(Time now) {
  if (now > now_) now_ = now;
  // A timer that finds no room for its output stays due (next_timeout() is then in the past)
  // and runs once the consumer has drained the queues: nothing it would emit is lost.
  auto ready = [this] {
    if (!lacks_room(kTimerEvents, kTimerTx)) return true;
    ++counters_.timers_held;
    log(LogLevel::Warn, "output queues full: due timers held until they are drained");
    return false;
  };
  timers_.advance_while(now_, ready, [this](uint64_t cookie) { on_timer(cookie); });
}

}  // namespace ibcm
