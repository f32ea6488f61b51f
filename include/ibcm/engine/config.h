/// @file
/// Configuration of one CM (one CA port). Every limit has a default and can be changed.
#pragma once

#include <cstdint>

#include "ibcm/api.h"
#include "ibcm/engine/types.h"

IBCM_API_BEGIN

namespace ibcm {

/// Rules the engine can be told to break, to prove that the simulator's invariant checks catch
/// each one (mutation testing, tests/sim/random_run_test.cpp). Never set outside such tests.
enum class Mutation : uint32_t {
  None = 0,
  SkipStaleDreq = 1u << 0,           ///< a stale REQ/REP gets REJ 10 but the old connection no DREQ
  NeverTimeOutDreq = 1u << 1,        ///< DREQ_SENT waits for a DREP forever after the last retry
  IgnoreRejOnEstablished = 1u << 2,  ///< a REJ that gives up an ESTABLISHED connection is dropped
};

struct Config {
  uint64_t ca_guid = 0;  ///< this CA's GUID (REQ/REP LocalCAGUID, REJ 4 ARI)
  Address local;         ///< this port's address (the source of what we send)
  uint64_t seed = 0;     ///< randomness (communication IDs, TIDs): injected, never read from the OS

  /// TIMEWAIT length. 0: computed per connection as the spec asks, from the path's local ACK
  /// timeout (which covers 2 x packet lifetime plus the target's ACK delay), see docs/engine.md.
  Time timewait{0};
  /// Our CM response time, advertised in REQ (LocalCMResponseTimeout) and used when a peer
  /// needs to know how long we take: exponent t means 4.096 us x 2^t.
  uint8_t cm_response_timeout = 20;
  uint8_t max_cm_retries = 15;
  /// Service timeout we advertise in an MRA (exponent).
  uint8_t mra_service_timeout = 24;
  /// SIDR: how long to wait for a SIDR_REP per try, and how many retries, unless the request
  /// sets its own (SidrParams).
  Time sidr_timeout = std::chrono::milliseconds(500);
  uint8_t sidr_retries = 3;

  /// Resource limits. Hitting one gives a clear error (consumer) or a counted REJ 3 / drop (wire).
  uint32_t max_connections = 1u << 24;
  uint32_t max_half_open = 1u << 16;  ///< passive connections not yet ESTABLISHED (REQ flood bound)
  /// When a REQ finds the half-open backlog full: end the oldest half-open connection (REJ 3 to
  /// its peer, `aborted` event) and admit the new REQ — a legitimate peer completes within a round
  /// trip, a forged one never does, so a flood cannot starve real clients — or answer REJ 3.
  enum class HalfOpenFull : uint8_t { EvictOldest, Reject };
  HalfOpenFull half_open_full = HalfOpenFull::EvictOldest;
  /// Connections the consumer expects to hold at once: the engine makes room for this many records
  /// and index slots when it starts, so that growing to that size allocates and rehashes nothing
  /// while MADs are being handled (0: grow on demand, by doubling). Room only: not a limit.
  uint32_t expected_connections = 0;
  /// REQs sent to one peer (port GID) and not yet answered (REP, REJ or MRA) or given up, at most
  /// this many at once; a connect beyond that keeps its REQ until one of them is answered, then
  /// sends it (in connect order, its timer starting then). A burst of connects then cannot
  /// overrun the peer's MAD receive queue, nor ours with the burst of REPs that answers it: a MAD
  /// that finds no receive buffer is dropped and costs a whole CM timeout (4 s at rdma_cm's 20).
  /// 0: no limit (as the kernel CM). ibcm's CLI and daemon set 128 (docs/engine.md).
  uint32_t max_reqs_in_flight = 0;
  uint32_t max_listeners = 1u << 16;
  uint32_t max_sidr = 1u << 16;  ///< SIDR requests kept, each direction (incoming: oldest evicted)
  /// Output queue bounds (at least 2 each). Input that could not put all it produces in them is
  /// refused or held before it changes anything, so no event is lost (docs/engine.md).
  uint32_t max_pending_tx = 1u << 20;  ///< MADs waiting in poll_transmit
  uint32_t max_pending_events = 1u << 20;

  /// REJ 12 (invalid GID, ARI our GID) for a REQ whose PrimaryRemotePortGID is not `local.gid`.
  /// For a port with that one GID, such as ibcm's MAD-over-UDP and RoCEv2 transports bound to one
  /// address; off where the port answers to more GIDs than `local` names (a device's GID table,
  /// as with umad). Never applied when `local.gid` is unspecified (all zeros, or IPv4-mapped
  /// 0.0.0.0).
  bool check_req_gid = false;

  uint32_t mutations = 0;  ///< Mutation bits; 0 in every real use
};

}  // namespace ibcm

IBCM_API_END
