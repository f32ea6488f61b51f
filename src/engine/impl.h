// Private state of a Cm: connection records, lookup maps, timers and output queues.
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/fifo.h"
#include "engine/flat_map.h"
#include "engine/index_table.h"
#include "engine/local_ids.h"
#include "engine/qpn_index.h"
#include "engine/state_table.h"
#include "ibcm/engine/cm.h"
#include "ibcm/engine/timer_wheel.h"
#include "ibcm/wire/mad.h"
#include "ibcm/wire/schema.h"

namespace ibcm {

namespace engine {

constexpr uint32_t kNoIndex = UINT32_MAX;

// The hot part of a connection, kept small: what routing, the state table and timers need.
struct Conn {
  ConnId local_id = 0;
  uint32_t remote_id = 0;
  uint64_t remote_guid = 0;
  uint64_t service_id = 0;
  uint64_t tid = 0;  // the transaction our next reply copies (REQ's, DREQ's, LAP's)
  uint32_t local_qpn = 0;
  uint32_t remote_qpn = 0;
  uint32_t timer = TimerWheel::kNone;
  uint32_t tx = kNoIndex;  // the last MAD we sent that a retry or a duplicate repeats
  ListenId listener = 0;
  Address peer;
  State state = State::Idle;
  LapState lap = LapState::Idle;
  uint8_t retries_left = 0;
  uint8_t max_retries = 0;
  uint8_t plt = 0;          // packet lifetime exponent
  uint8_t peer_resp = 0;    // the peer CM's response time exponent
  uint8_t ack_timeout = 0;  // the longest local ACK timeout exponent of its paths (TIMEWAIT)
  // Flags in one byte (a million connections are a million records).
  bool active : 1 = false;  // we sent the REQ
  bool p2p : 1 = false;
  bool detached : 1 = false;  // destroyed by the consumer: no more events
  bool in_remote_map : 1 = false;
  bool in_rqpn_map : 1 = false;
  bool in_lqpn_map : 1 = false;
  bool half_open : 1 = false;       // counted against max_half_open, linked in the half-open list
  bool stale_reported : 1 = false;  // the consumer has had its stale_connection event
  uint32_t ho_prev = kNoIndex, ho_next = kNoIndex;  // the half-open list, oldest first
};
static_assert(sizeof(Conn) <= 96, "a connection record is on every live connection's bill");

// Alternate paths, kept apart from Setup: most connections never have one.
struct AltPaths {
  std::optional<wire::PathInfo> alternate;  // local = ours
  std::optional<wire::PathInfo> pending;    // from a LAP, until APR success
};

// What the QP attribute sets need; set while connecting, read by qp_attributes().
struct Setup {
  wire::PathInfo primary;   // local = ours
  uint32_t alt = kNoIndex;  // in Impl::alts_, or none
  wire::Mtu mtu = wire::Mtu::None;
  wire::TransportType transport = wire::TransportType::RC;
  uint32_t local_psn = 0;
  uint32_t remote_psn = 0;
  uint32_t qkey = 0;
  uint16_t pkey = 0xFFFF;
  uint8_t max_rd_atomic = 0;       // our initiator depth
  uint8_t max_dest_rd_atomic = 0;  // our responder resources
  uint8_t retry_count = 0;
  uint8_t rnr_retry = 0;
  uint8_t min_rnr_timer = 0;
};

struct RemoteKey {  // (remote comm ID, remote CA GUID): finds duplicate REQs
  uint32_t id;
  uint64_t guid;
  bool operator==(const RemoteKey&) const = default;
};
struct QpKey {  // (remote QPN, remote CA GUID): finds stale connections
  uint32_t qpn;
  uint64_t guid;
  bool operator==(const QpKey&) const = default;
};
struct SidrKey {  // (RequestID, requester GID): SIDR duplicate detection
  uint32_t id;
  wire::Gid gid;
  bool operator==(const SidrKey&) const = default;
};

// The lookups by the peer's comm ID and QPN are IndexTables over the connection records
// (index_table.h): each reads its key from the record. Hashes are keyed by a secret from
// Config::seed. Our own comm IDs name their slot (local_ids.h).
struct LocalIdOf {
  const std::vector<Conn>* conns;
  uint32_t operator()(uint32_t i) const { return (*conns)[i].local_id; }
};
struct RemoteKeyOf {
  const std::vector<Conn>* conns;
  RemoteKey operator()(uint32_t i) const {
    return {(*conns)[i].remote_id, (*conns)[i].remote_guid};
  }
};
struct RemoteQpnOf {
  const std::vector<Conn>* conns;
  QpKey operator()(uint32_t i) const { return {(*conns)[i].remote_qpn, (*conns)[i].remote_guid}; }
};
// A peer's keys for connections made one after another differ in their low bits: they are hashed
// to neighbouring slots (neighbour_hash, index_table.h).
struct RemoteKeyHash {
  uint64_t seed;
  uint64_t operator()(const RemoteKey& k) const { return neighbour_hash(seed, k.id, k.guid); }
};
struct QpKeyHash {
  uint64_t seed;
  uint64_t operator()(const QpKey& k) const { return neighbour_hash(seed, k.qpn, k.guid); }
};
struct SidrKeyHash {
  size_t operator()(const SidrKey& k) const;
};

struct Listener {
  uint64_t service_id = 0;
  uint64_t mask = 0;
  bool used = false;
};

struct SidrOut {
  uint32_t request_id = 0;
  Address dest;
  uint64_t tid = 0;
  uint32_t tx = kNoIndex;
  uint32_t timer = TimerWheel::kNone;
  Time timeout{0};  // per try
  uint8_t retries_left = 0;
  bool used = false;
};
struct SidrIn {
  SidrKey key{};
  SidrId handle = 0;  // what the consumer answers with
  Address from;
  uint64_t tid = 0;
  uint64_t service_id = 0;
  uint32_t tx = kNoIndex;  // our SIDR_REP, repeated for duplicates until the entry expires
  uint32_t timer = TimerWheel::kNone;
  bool used = false;
};

enum class TimerKind : uint8_t { Conn, SidrOut, SidrIn };
constexpr uint64_t timer_cookie(TimerKind k, uint32_t index) {
  return uint64_t{static_cast<uint8_t>(k)} << 32 | index;
}

// A slab of records with stable indices and a free list.
template <class T>
struct Slab {
  std::vector<T> items;
  std::vector<uint32_t> free;
  size_t live = 0;
  uint32_t alloc() {
    ++live;
    if (!free.empty()) {
      uint32_t i = free.back();
      free.pop_back();
      items[i] = T{};
      return i;
    }
    items.emplace_back();
    return static_cast<uint32_t>(items.size() - 1);
  }
  void release(uint32_t i) {
    --live;
    free.push_back(i);
  }
};

}  // namespace engine

class Cm::Impl {
 public:
  explicit Impl(const Config& c);

  // input
  void handle_mad(Time now, const Address& from, std::span<const uint8_t> bytes);
  void handle_mads(Time now, std::span<const Inbound> batch);
  // One MAD at the current time (now_): decode, count, route.
  void read_mad(const Address& from, std::span<const uint8_t> bytes);
  // Starts loading the table slots the MAD will look up (its bytes are not validated yet).
  void prefetch_lookups(std::span<const uint8_t> bytes);
  void handle_timeout(Time now);

  // --- shared machinery (cm_core.cpp) ---
  Time now_{0};
  Config cfg_;
  Counters counters_;
  Logger log_;
  uint64_t rng_;
  TimerWheel timers_;
  engine::Fifo<Transmit> tx_queue_;
  engine::Fifo<Event> events_;
  wire::Mad rx_;  // the MAD being handled (decoded in place)

  engine::Slab<engine::Conn> conns_;
  std::vector<engine::Setup> setup_;  // parallel to conns_.items
  engine::Slab<wire::MadBytes> tx_bufs_;
  engine::Slab<engine::AltPaths> alts_;
  uint64_t hash_seed_;
  engine::LocalIds<engine::LocalIdOf> by_local_;
  engine::IndexTable<engine::RemoteKey, engine::RemoteKeyOf, engine::RemoteKeyHash> by_remote_;
  engine::IndexTable<engine::QpKey, engine::RemoteQpnOf, engine::QpKeyHash> by_rqpn_;
  engine::QpnIndex by_lqpn_;
  std::vector<uint32_t> p2p_pending_;  // connections in REQ_SENT that are peer-to-peer
  size_t half_open_ = 0;
  uint32_t ho_head_ = engine::kNoIndex, ho_tail_ = engine::kNoIndex;

  engine::Slab<engine::Listener> listeners_;  // ListenId = index + 1
  engine::Slab<engine::SidrOut> sidr_out_;
  engine::FlatMap<uint32_t, uint32_t> sidr_out_by_id_;
  engine::Slab<engine::SidrIn> sidr_in_;
  // Incoming SIDR entries, oldest first, as (slot, handle); a pair whose slot no longer holds that
  // handle has expired and is skipped.
  engine::Fifo<std::pair<uint32_t, SidrId>> sidr_in_order_;
  engine::FlatMap<engine::SidrKey, uint32_t, engine::SidrKeyHash> sidr_in_by_key_;
  uint32_t next_sidr_in_handle_ = 1;
  engine::FlatMap<uint32_t, uint32_t> sidr_in_by_handle_;

  void log(LogLevel level, const std::string& msg);
  void count_drop(Drop d, std::string_view msg_name, std::string_view why);
  uint64_t new_tid();
  // The most output one input can make: a received MAD (a stale REP: REJ 10 + DREQ, and
  // stale_connection + aborted; an RTU: rtu_received + established), a timer (a REQ timeout:
  // REJ 4 + req_timeout), a consumer call (send_rtu, establish: established).
  static constexpr size_t kMadEvents = 2, kMadTx = 2, kTimerEvents = 1, kTimerTx = 1;
  // The queue limits, never below one MAD's worst case (or no MAD could ever be taken).
  size_t event_limit_;
  size_t tx_limit_;
  // Which queue cannot take `events` more events and `tx` more MADs, if one cannot. Inputs are
  // refused (MADs), held (timers) or fail (consumer calls) before any state change when there is
  // no room for their worst case, so that nothing they produce is ever lost.
  std::optional<Drop> lacks_room(size_t events, size_t tx) const;
  // Events are built in their queue slot: an Event is a 320-byte variant, most alternatives a
  // few bytes. Never dropped: the input that emits it made sure of the room (lacks_room).
  template <class E>
  void emit(const E& e) {
    assert(events_.size() < event_limit_ && "an input emitted more than it reserved room for");
    if constexpr (std::is_same_v<E, Event>)
      events_.push_slot() = e;
    else
      events_.push_slot().template emplace<E>(e);
  }
  template <class E>
  void emit_for(const engine::Conn& c, const E& e) {  // suppressed once the consumer destroyed c
    if (!c.detached) emit(e);
  }
  void send(const Address& to, const wire::Mad& mad);
  // Sends one message, encoded straight into its transmit slot.
  template <class M>
  void send_msg(const Address& to, const M& msg, uint64_t tid) {
    constexpr auto attr = static_cast<uint16_t>(wire::Schema<M>::attr);
    if (!count_tx(attr, false)) return;
    Transmit& t = tx_queue_.push_slot();
    t.to = to;
    wire::encode_send(msg, tid, t.mad);
  }
  // Counts a MAD about to be queued; false (and counted as a drop) when the queue is full.
  bool count_tx(uint16_t attr, bool retry);
  void send_bytes(const Address& to, const wire::MadBytes& bytes, uint16_t attr, bool retry);
  // Sends the message and keeps it as connection c's MAD for retries / duplicate answers.
  template <class M>
  void keep_tx(engine::Conn& c, const M& msg, uint64_t tid) {
    if (c.tx == engine::kNoIndex) c.tx = tx_bufs_.alloc();
    wire::encode_send(msg, tid, tx_bufs_.items[c.tx]);
    send_bytes(c.peer, tx_bufs_.items[c.tx], static_cast<uint16_t>(wire::Schema<M>::attr), false);
  }
  void release_tx(engine::Conn& c);
  void resend_kept(engine::Conn& c, bool is_retry);
  void arm(engine::Conn& c, uint32_t idx, Time delay);
  void disarm(engine::Conn& c);

  engine::Conn* find(ConnId id, uint32_t* idx = nullptr);
  const engine::Conn* find(ConnId id) const;
  uint32_t index_of(const engine::Conn& c) const {
    return static_cast<uint32_t>(&c - conns_.items.data());
  }
  uint32_t new_conn();  // allocates a record with a fresh local comm ID
  void free_conn(uint32_t idx);
  // Connection idx's alternate paths: nullptr when it has none; alts_for makes room.
  engine::AltPaths* alts(uint32_t idx) {
    uint32_t a = setup_[idx].alt;
    return a == engine::kNoIndex ? nullptr : &alts_.items[a];
  }
  const engine::AltPaths* alts(uint32_t idx) const {
    uint32_t a = setup_[idx].alt;
    return a == engine::kNoIndex ? nullptr : &alts_.items[a];
  }
  engine::AltPaths& alts_for(uint32_t idx);
  // The LAP exchange of connection idx is over: its path becomes the alternate if `loaded`
  // (APR success), and is dropped either way.
  void end_lap(uint32_t idx, bool loaded);
  // TIMEWAIT covers the longest local ACK timeout of the paths connection idx has now: called
  // whenever its primary or alternate path changes.
  void update_ack_timeout(uint32_t idx);
  // Whether gid is the peer's port on a path of connection idx (where its MADs come from, or the
  // remote end of its primary or alternate path).
  bool is_peer_gid(uint32_t idx, const wire::Gid& gid) const;
  void set_state(engine::Conn& c, State s);
  void set_remote(engine::Conn& c, uint32_t idx, uint32_t remote_id, uint64_t guid, uint32_t rqpn);
  void bind_local_qpn(engine::Conn& c, uint32_t idx, uint32_t qpn);
  void unbind_local_qpn(engine::Conn& c, uint32_t idx);
  void forget_remote_qpn(engine::Conn& c, uint32_t idx);
  void half_open_add(engine::Conn& c, uint32_t idx);
  void half_open_remove(engine::Conn& c);
  void evict_oldest_half_open();
  bool evict_oldest_sidr_in();
  std::optional<Error> local_qpn_busy(uint32_t qpn) const;

  Time retry_interval(const engine::Conn& c) const;
  Time timewait_length(const engine::Conn& c) const;
  void enter_timewait(engine::Conn& c, uint32_t idx);

  // Message builders (the current comm IDs of c; replies go out with c.tid, a DREQ with a new
  // TID).
  wire::Rej make_rej(const engine::Conn& c, wire::MsgRef rejected, wire::RejReason reason,
                     std::span<const uint8_t> ari, std::span<const uint8_t> pd) const;
  wire::Dreq make_dreq(const engine::Conn& c, std::span<const uint8_t> pd) const;
  wire::Drep make_drep(const engine::Conn& c, std::span<const uint8_t> pd) const;
  wire::Rtu make_rtu(const engine::Conn& c, std::span<const uint8_t> pd) const;
  wire::Mra make_mra(const engine::Conn& c, wire::MsgRef what, uint8_t service_timeout,
                     std::span<const uint8_t> pd) const;
  void send_rej_timeout(const engine::Conn& c, wire::MsgRef rejected);

  // --- routing and the state table (router.cpp) ---
  void on_cm_mad(const Address& from, const wire::Mad& mad);
  void on_class_port_info(const Address& from, const wire::Mad& mad);
  void answer_status(const Address& from, const wire::MadHeader& h, wire::MadStatus status);
  void dispatch(engine::Conn& c, uint32_t idx, engine::Input in, const Address& from,
                const wire::Mad& mad);
  void dispatch_lap(engine::Conn& c, uint32_t idx, engine::LapInput in, const wire::Mad& mad);
  void on_timer(uint64_t cookie);

  // --- establishment (connect.cpp) ---
  void on_new_req(const Address& from, const wire::Mad& mad);
  bool peer_to_peer_collision(const Address& from, const wire::Mad& mad);
  void accept_req_into(engine::Conn& c, uint32_t idx, const Address& from, const wire::Mad& mad,
                       ListenId listener, bool p2p);
  // Answers a REQ with REJ `reason`. from_conn: our comm ID when a connection of ours stands
  // behind the REJ (a duplicate REQ in TIMEWAIT), 0 when none does.
  void reject_req(const Address& from, const wire::Mad& mad, wire::RejReason reason,
                  std::span<const uint8_t> ari = {}, ConnId from_conn = 0);
  // A REQ or REP from `from` claims the (QPN, CA GUID) of connection old_idx: from that
  // connection's peer it is stale and the connection is torn down; from elsewhere it is counted
  // (StaleSpoofed) and logged, and the connection is left alone. Either way the caller answers
  // it with REJ 10.
  void stale_claim(uint32_t old_idx, const Address& from, uint32_t remote_qpn,
                   std::string_view msg_name);
  void tear_down_stale(uint32_t idx, uint32_t remote_qpn);
  void act_rep_accept(engine::Conn& c, uint32_t idx, const Address& from, const wire::Mad& mad);
  void act_rej_connect(engine::Conn& c, uint32_t idx, const wire::Mad& mad);
  void act_mra_wait(engine::Conn& c, uint32_t idx, const wire::Mad& mad);
  void act_rtu_establish(engine::Conn& c, uint32_t idx, const wire::Mad& mad);
  void act_retry_req(engine::Conn& c, uint32_t idx);
  void act_retry_rep(engine::Conn& c, uint32_t idx);
  void remove_p2p(uint32_t idx);

  // --- release (disconnect.cpp) ---
  void on_unknown_dreq(const Address& from, const wire::Mad& mad);
  void act_dreq(engine::Conn& c, uint32_t idx, const wire::Mad& mad);
  void act_drep(engine::Conn& c, uint32_t idx, const wire::Mad& mad);
  void act_retry_dreq(engine::Conn& c, uint32_t idx);
  void act_exit_timewait(engine::Conn& c, uint32_t idx);

  // --- alternate paths (lap.cpp) ---
  void act_lap_accept(engine::Conn& c, const wire::Mad& mad);
  void act_apr_done(engine::Conn& c, uint32_t idx, const wire::Mad& mad);
  void act_lap_mra(engine::Conn& c, uint32_t idx, const wire::Mad& mad);
  void act_lap_rejected(engine::Conn& c, uint32_t idx, const wire::Mad& mad);
  void act_peer_abandoned(engine::Conn& c, uint32_t idx, const wire::Mad& mad);
  void act_retry_lap(engine::Conn& c, uint32_t idx);

  // --- SIDR (sidr.cpp) ---
  void on_sidr_req(const Address& from, const wire::Mad& mad);
  void on_sidr_rep(const Address& from, const wire::Mad& mad);
  void on_sidr_timer(engine::TimerKind kind, uint32_t index);
  void finish_sidr_out(uint32_t idx);
  void finish_sidr_in(uint32_t idx);

  // listeners
  std::optional<ListenId> match_listener(uint64_t service_id) const;
};

}  // namespace ibcm
