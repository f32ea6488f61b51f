// The engine behind a Cm. Cm (cm.cpp) is a thin facade: each of its calls is one public function
// here. What they change is private, and spread over one file per connection phase, both
// directions in each:
//   receive.cpp         decode, count and route each MAD (routes.h), apply the state tables
//   establishment.cpp   listen, connect, accept, reject, MRA, RTU, establish; REQ, MRA, REJ, REP
//                       and RTU received; their timers and messages; the QP attributes
//   stale.cpp           a REQ or REP that claims the QPN of a connection we still hold
//   teardown.cpp        disconnect, DREQ and DREP both ways, destroy, TIMEWAIT
//   alternate_path.cpp  LAP, APR and MRA for a LAP, both ways; migrate
//   sidr.cpp            SIDR both ways
//   conn_records.cpp    connection records, their lookups, timers and the half-open list
//   output.cpp          the transmit and event queues, counters and the log
// What each message and each call does in each state is read from state_table.h.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/conn_records.h"
#include "engine/fifo.h"
#include "engine/flat_map.h"
#include "engine/index_table.h"
#include "engine/local_ids.h"
#include "engine/qpn_index.h"
#include "engine/req_window.h"
#include "engine/routes.h"
#include "engine/state_table.h"
#include "ibcm/engine/cm.h"
#include "ibcm/engine/timer_wheel.h"
#include "ibcm/wire/mad.h"
#include "ibcm/wire/schema.h"

namespace ibcm {

namespace engine {
// The widest value of a 24-bit field: QPNs, PSNs, vendor IDs.
constexpr uint32_t kMax24Bits = 0xFFFFFF;
// Copies what fits of src into a message's byte field (the rest stays zero).
inline void copy_pd(std::span<uint8_t> dst, std::span<const uint8_t> src) {
  std::copy_n(src.begin(), std::min(src.size(), dst.size()), dst.begin());
}
// A message of connection c: its comm IDs (ours is the sender's) and the private data; the
// caller fills in the rest.
template <class M>
M message_of(const Conn& c, std::span<const uint8_t> pd) {
  M m;
  m.local_comm_id = c.local_id;
  m.remote_comm_id = c.remote_id;
  copy_pd(m.private_data, pd);
  return m;
}
inline Unexpected<Error> fail(Error e) {
  return Unexpected{e};
}
}  // namespace engine

class Cm::Impl {
 public:
  explicit Impl(const Config& c);

  // --- input (receive.cpp) ---
  void handle_mad(Time now, const Address& from, std::span<const uint8_t> bytes);
  void handle_mads(Time now, std::span<const Inbound> batch);
  void handle_timeout(Time now);

  // --- output (output.cpp) ---
  std::optional<Time> next_timeout() const {
    // REQs that may leave (send_waiting_reqs held them for output room): at once.
    if (!req_ready_.empty()) return now_;
    return timers_.next_wakeup();
  }
  engine::Fifo<Transmit>& transmits() { return tx_queue_; }
  engine::Fifo<Event>& events() { return events_; }
  const Counters& counters() const { return counters_; }
  const Config& config() const { return cfg_; }
  void set_logger(Logger log) { log_ = std::move(log); }

  // --- what it holds (conn_records.cpp) ---
  size_t connection_count() const { return conns_.live; }
  std::vector<ConnectionInfo> connections() const;
  size_t timer_count() const { return timers_.size(); }
  size_t sidr_count() const { return sidr_in_.live + sidr_out_.live; }
  const engine::Conn* find(ConnId id) const;

  // --- consumer calls (each in its phase's file) ---
  Expected<ListenId, Error> listen(uint64_t service_id, uint64_t mask);
  Status unlisten(ListenId id);
  Expected<ConnId, Error> connect(Time now, const ConnectParams& p);
  Status accept(Time now, ConnId id, const AcceptParams& p);
  Status reject(Time now, ConnId id, wire::RejReason reason, std::span<const uint8_t> ari,
                std::span<const uint8_t> pd);
  Status send_mra(Time now, ConnId id, uint8_t service_timeout, std::span<const uint8_t> pd);
  Status send_rtu(Time now, ConnId id, std::span<const uint8_t> pd);
  Status establish(Time now, ConnId id);
  Expected<QpAttr, Error> qp_attributes(ConnId id, QpState target) const;
  Status disconnect(Time now, ConnId id, std::span<const uint8_t> pd);
  Status send_drep(Time now, ConnId id, std::span<const uint8_t> pd);
  void destroy(Time now, ConnId id);
  Status load_alternate_path(Time now, ConnId id, const wire::PathInfo& alt,
                             std::span<const uint8_t> pd);
  Status send_apr(Time now, ConnId id, wire::ApStatus status, std::span<const uint8_t> info,
                  std::span<const uint8_t> pd);
  Status migrate(ConnId id);
  Expected<SidrId, Error> sidr_request(Time now, const SidrParams& p);
  Status sidr_reply(Time now, SidrId id, const SidrReplyParams& p);

 private:
  // ===== receive.cpp =====
  // One MAD at the current time (now_): decode, count, route.
  void read_mad(const Address& from, std::span<const uint8_t> bytes);
  // Starts loading the table slots the MAD will look up (its bytes are not validated yet).
  void prefetch_lookups(std::span<const uint8_t> bytes);
  // Starts loading the table slots a message's keys name: all of them, or (first_lookup false)
  // those read after the lookup that finds its connection.
  template <class M>
  void prefetch_keys(const engine::Keys& k, bool first_lookup);
  // Message M, decoded in rx_ from `bytes`: its route's lookup, the checks that it comes from the
  // connection's peer, then the state table.
  template <class M>
  void route(const Address& from, const wire::Mad& mad, const uint8_t* bytes);
  template <class M>
  uint32_t look_up(const engine::Keys& k, const wire::Mad& mad) const;
  void on_class_port_info(const Address& from, const wire::Mad& mad);
  void answer_status(const Address& from, const wire::MadHeader& h, wire::MadStatus status);
  void dispatch(engine::Conn& c, uint32_t idx, engine::Input in, const Address& from,
                const wire::Mad& mad);
  void dispatch_lap(engine::Conn& c, uint32_t idx, engine::LapInput in, const wire::Mad& mad);
  void on_timer(uint64_t cookie);

  // The connection a consumer call names and what the call table says the call does there, after
  // the timers due by `now` have run. Fails with UnknownConnection, or InvalidState where the
  // table refuses the call.
  struct Called {
    engine::Conn* c;
    uint32_t idx;
    engine::CallAct act;
  };
  Expected<Called, Error> begin_call(Time now, ConnId id, engine::Call call) {
    handle_timeout(now);
    return find_for_call(id, call);
  }
  Expected<Called, Error> find_for_call(ConnId id, engine::Call call) {
    uint32_t idx;
    engine::Conn* c = find(id, &idx);
    if (!c) return engine::fail(Error::UnknownConnection);
    const engine::CallAct a = engine::call_act(c->state, c->lap, call);
    if (a == engine::CallAct::Refuse) return engine::fail(Error::InvalidState);
    return Called{c, idx, a};
  }

  // ===== output.cpp =====
  void log(LogLevel level, const std::string& msg);
  void count_drop(Drop d, std::string_view msg_name, std::string_view why);
  uint64_t new_tid();
  // The most output one input can make: a received MAD (a stale REP: REJ 10 + DREQ, and
  // stale_connection + aborted; an RTU: rtu_received + established), a timer (a REQ timeout:
  // REJ 4 + req_timeout), a consumer call (send_rtu, establish: established).
  static constexpr size_t kMadEvents = 2, kMadTx = 2, kTimerEvents = 1, kTimerTx = 1;
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

  // ===== conn_records.cpp =====
  engine::Conn* find(ConnId id, uint32_t* idx);
  uint32_t index_of(const engine::Conn& c) const {
    return static_cast<uint32_t>(&c - conns_.items.data());
  }
  uint32_t new_conn();  // allocates a record with a fresh local comm ID
  void free_conn(uint32_t idx);
  void arm(engine::Conn& c, uint32_t idx, Time delay);
  void disarm(engine::Conn& c);
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
  std::optional<Error> local_qpn_busy(uint32_t qpn) const;
  void half_open_add(engine::Conn& c, uint32_t idx);
  void half_open_remove(engine::Conn& c);
  Time retry_interval(const engine::Conn& c) const;

  // ===== establishment.cpp =====
  std::optional<ListenId> match_listener(uint64_t service_id) const;
  void on_new_req(const Address& from, const wire::Mad& mad);
  bool peer_to_peer_collision(const Address& from, const wire::Mad& mad);
  void accept_req_into(engine::Conn& c, uint32_t idx, const Address& from, const wire::Mad& mad,
                       ListenId listener, bool p2p);
  void remove_p2p(uint32_t idx);
  void evict_oldest_half_open();
  // Answers a REQ with REJ `reason`. from_conn: our comm ID when a connection of ours stands
  // behind the REJ (a duplicate REQ in TIMEWAIT), 0 when none does.
  void reject_req(const Address& from, const wire::Mad& mad, wire::RejReason reason,
                  std::span<const uint8_t> ari = {}, ConnId from_conn = 0);
  // REJ for a message that no connection of ours answers yet (a REQ, a stale REP, a REQ we cannot
  // decode): the sender's comm ID, and ours (0 when no connection of ours stands behind it).
  void send_rej_to(const Address& to, uint64_t tid, wire::MsgRef rejected, uint32_t their_id,
                   ConnId our_id, wire::RejReason reason, std::span<const uint8_t> ari = {});
  // REJ for the REQ or REP of connection idx, which ends: freed, or (keep_qpn) kept in TIMEWAIT.
  void reject_conn(engine::Conn& c, uint32_t idx, wire::MsgRef rejected, wire::RejReason reason,
                   std::span<const uint8_t> ari, std::span<const uint8_t> pd, bool keep_qpn);
  void send_rej_timeout(const engine::Conn& c, wire::MsgRef rejected);
  void act_rep_accept(engine::Conn& c, uint32_t idx, const Address& from, const wire::Mad& mad);
  void act_rej_connect(engine::Conn& c, uint32_t idx, const wire::Mad& mad);
  void act_mra_wait(engine::Conn& c, uint32_t idx, const wire::Mad& mad);
  void act_rtu_establish(engine::Conn& c, const wire::Mad& mad);
  void act_retry_req(engine::Conn& c, uint32_t idx);
  void act_retry_rep(engine::Conn& c, uint32_t idx);
  void resend_rtu(engine::Conn& c);
  void make_established(engine::Conn& c);
  // Messages of connection c (its current comm IDs; replies go out with c.tid).
  wire::Rej make_rej(const engine::Conn& c, wire::MsgRef rejected, wire::RejReason reason,
                     std::span<const uint8_t> ari, std::span<const uint8_t> pd) const;
  wire::Mra make_mra(const engine::Conn& c, wire::MsgRef what, uint8_t service_timeout,
                     std::span<const uint8_t> pd) const;

  // ===== stale.cpp =====
  // A REQ or REP from `from` claims the (QPN, CA GUID) of connection old_idx: from that
  // connection's peer it is stale and the connection is torn down; from elsewhere it is counted
  // (StaleSpoofed) and logged, and the connection is left alone. Either way the caller answers
  // it with REJ 10.
  void stale_claim(uint32_t old_idx, const Address& from, uint32_t remote_qpn,
                   std::string_view msg_name);
  void tear_down_stale(uint32_t idx, uint32_t remote_qpn);
  void act_rej_stale(engine::Conn& c, const Address& from, const wire::Mad& mad);

  // ===== teardown.cpp =====
  void on_unknown_dreq(const Address& from, const wire::Mad& mad);
  // DREQ_SENT: a DREQ (with a new TID, as every DREQ), kept and retried.
  void start_dreq(engine::Conn& c, uint32_t idx, std::span<const uint8_t> pd);
  void send_drep_and_timewait(engine::Conn& c, uint32_t idx, std::span<const uint8_t> pd);
  void act_dreq(engine::Conn& c, const wire::Mad& mad);
  void act_resend_drep(engine::Conn& c, const wire::Mad& mad);
  void act_drep(engine::Conn& c, uint32_t idx, const wire::Mad& mad);
  void act_retry_dreq(engine::Conn& c, uint32_t idx);
  void act_exit_timewait(engine::Conn& c, uint32_t idx);
  Time timewait_length(const engine::Conn& c) const;
  void enter_timewait(engine::Conn& c, uint32_t idx);
  wire::Dreq make_dreq(const engine::Conn& c, std::span<const uint8_t> pd) const;

  // ===== alternate_path.cpp =====
  // The LAP exchange of connection c is over (its sub-state idle): the LAP's path becomes the
  // alternate if `loaded` (APR success), and is dropped either way.
  void end_lap(engine::Conn& c, uint32_t idx, bool loaded);
  void act_lap_accept(engine::Conn& c, const wire::Mad& mad);
  void act_apr_done(engine::Conn& c, uint32_t idx, const wire::Mad& mad);
  void act_lap_mra(engine::Conn& c, uint32_t idx, const wire::Mad& mad);
  void act_lap_rejected(engine::Conn& c, uint32_t idx, const wire::Mad& mad);
  void act_peer_abandoned(engine::Conn& c, uint32_t idx, const wire::Mad& mad);
  void act_retry_lap(engine::Conn& c, uint32_t idx);

  // ===== req_window.cpp =====
  // Sends connection idx's REQ (and starts its retry timer), or keeps it until its peer's window
  // has room.
  void send_req(engine::Conn& c, uint32_t idx, const wire::Req& r);
  // c's REQ is answered or given up (or was never sent): its place in the window is free.
  void req_done(engine::Conn& c);
  void drop_req_window(uint32_t ws);

 public:
  // Sends the REQs that req_done made room for; the end of every call that can end a REQ_SENT.
  void send_waiting_reqs();

 private:
  // ===== sidr.cpp =====
  void on_sidr_req(const Address& from, const wire::Mad& mad);
  void on_sidr_rep(const Address& from, const wire::Mad& mad);
  void on_sidr_timer(engine::TimerKind kind, uint32_t index);
  void finish_sidr_out(uint32_t idx);
  void finish_sidr_in(uint32_t idx);
  bool evict_oldest_sidr_in();

  // ===== state =====
  Time now_{0};
  Config cfg_;
  Counters counters_;
  Logger log_;
  uint64_t rng_;
  TimerWheel timers_;
  engine::Fifo<Transmit> tx_queue_;
  engine::Fifo<Event> events_;
  // The queue limits, never below one MAD's worst case (or no MAD could ever be taken).
  size_t event_limit_;
  size_t tx_limit_;
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
  engine::Slab<engine::ReqWindow> req_windows_;
  engine::FlatMap<wire::Gid, uint32_t> req_windows_by_peer_;
  std::vector<uint32_t> req_ready_;  // windows with room and connects waiting
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
};

}  // namespace ibcm
