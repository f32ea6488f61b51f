// The records the engine keeps: a connection's hot part (Conn) and its set-up (Setup), alternate
// paths, the keys its lookups use, listeners, SIDR entries, and the slab they live in.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "engine/index_table.h"
#include "ibcm/engine/cm.h"
#include "ibcm/engine/timer_wheel.h"
#include "ibcm/wire/messages.h"

namespace ibcm::engine {

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
  uint8_t retries_left : 4 = 0;  // MaxCMRetries is 4 bits on the wire
  uint8_t max_retries : 4 = 0;
  uint8_t packet_lifetime = 0;  // exponent
  uint8_t peer_resp = 0;        // the peer CM's response time exponent
  uint8_t ack_timeout = 0;      // the longest local ACK timeout exponent of its paths (TIMEWAIT)
  // Flags in one byte (a million connections are a million records).
  bool active : 1 = false;  // we sent the REQ
  bool p2p : 1 = false;
  bool detached : 1 = false;  // destroyed by the consumer: no more events
  bool in_remote_map : 1 = false;
  bool in_rqpn_map : 1 = false;
  bool in_lqpn_map : 1 = false;
  bool half_open : 1 = false;       // counted against max_half_open, linked in the half-open list
  bool stale_reported : 1 = false;  // the consumer has had its stale_connection event
  // Config::max_reqs_in_flight: our REQ is out and counted against its peer's window, or kept
  // (in tx) until the window has room.
  bool req_in_flight : 1 = false;
  bool req_held : 1 = false;
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

}  // namespace ibcm::engine
