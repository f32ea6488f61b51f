// Connection records and what finds them: the slab of records, the lookups by our comm ID, the
// peer's comm ID and QPN, and our QPN, each connection's timer, and the list of half-open
// connections (oldest first) that the backlog limit evicts from.
#include <algorithm>
#include <cstring>

#include "engine/cm_impl.h"
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

std::vector<ConnectionInfo> Cm::Impl::connections() const {
  std::vector<ConnectionInfo> out;
  out.reserve(conns_.live);
  for (const Conn& c : conns_.items) {
    if (c.local_id == 0) continue;  // a free slot (live IDs are never 0)
    out.push_back(ConnectionInfo{c.local_id, c.state, c.active, c.local_qpn, c.remote_qpn,
                                 c.remote_id, c.remote_guid, c.peer, c.timer != TimerWheel::kNone});
  }
  return out;
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
  req_done(c);
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
  if (s != State::ReqSent) req_done(c);
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
  return 2 * cm_time(c.packet_lifetime) + cm_time(c.peer_resp);
}

}  // namespace ibcm
