/// @file
/// The Communication Manager of one CA port, sans I/O.
///
/// Call order (as in quinn-proto): feed input with handle_mad() and handle_timeout(); make consumer
/// calls (connect, accept, ...); then drain output with poll_transmit() and poll_event() until
/// they return nothing; then sleep until next_timeout() or the next MAD. Every call takes the
/// current time; the engine never reads a clock, opens a socket or starts a thread, so the same
/// code runs on the simulator's virtual clock and in production. Not thread-safe: one thread drives
/// one Cm (ibcm::Runtime, ibcm/transport/runtime.h, offers a thread-safe front end).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/engine/config.h"
#include "ibcm/engine/counters.h"
#include "ibcm/engine/events.h"
#include "ibcm/engine/params.h"
#include "ibcm/engine/types.h"
#include "ibcm/result.h"
#include "ibcm/wire/mad.h"

IBCM_API_BEGIN

namespace ibcm {

struct Transmit {
  Address to;
  wire::MadBytes mad;
};

/// A received MAD and where it came from, for handle_mads().
struct Inbound {
  Address from;
  std::span<const uint8_t> mad;
};

enum class LogLevel : uint8_t { Debug, Info, Warn };
using Logger = std::function<void(LogLevel, std::string_view)>;

/// The outcome of a consumer call that returns nothing on success.
using Status = Expected<Ok, Error>;

class Cm {
 public:
  explicit Cm(const Config& config);
  ~Cm();
  Cm(Cm&&) noexcept;
  Cm& operator=(Cm&&) noexcept;

  // --- input ---
  /// A received MAD and where it came from. Bad input is counted (counters().drops) and logged;
  /// it never throws and never disturbs a connection it does not validly belong to.
  void handle_mad(Time now, const Address& from, std::span<const uint8_t> mad);
  /// The MADs one receive call delivered (recvmmsg), in order: the same as handle_mad() on each,
  /// but the connection lookups of the MADs a few places ahead are started early, so that with
  /// many connections (every lookup a cache miss) their memory latencies overlap.
  void handle_mads(Time now, std::span<const Inbound> batch);
  /// Runs every timer due at `now` (retransmissions, MRA waits, TIMEWAIT).
  void handle_timeout(Time now);
  /// When handle_timeout should next be called; nullopt when no timer is armed. In the past when
  /// due timers are waiting for room in the output queues: drain them, then call it again.
  std::optional<Time> next_timeout() const;

  // --- output ---
  std::optional<Transmit> poll_transmit();
  /// The same output without copying it out: the oldest queued transmits, in order and in place
  /// (empty when there are none; more may follow once these are consumed). Valid until the next
  /// call on this Cm; consume_transmits(n) removes the first n.
  std::span<const Transmit> peek_transmits() const;
  void consume_transmits(size_t n);
  std::optional<Event> poll_event();

  // --- consumer calls (ib_cm.h vocabulary) ---
  /// Listen on service_id for REQ and SIDR_REQ: a REQ matches if (REQ.ServiceID & mask) ==
  /// (service_id & mask). Where several match, the one whose mask has the most bits set takes
  /// it (an exact listener before a catch-all, whichever was made first).
  Expected<ListenId, Error> listen(uint64_t service_id, uint64_t mask = ~uint64_t{0});
  Status unlisten(ListenId id);
  /// Sends REQ. Fails with QpnInTimeWait / QpnInUse if the QPN still belongs to a connection, and
  /// with InvalidArgument for a value a REQ cannot carry or a passive side must reject (QPN 0 or
  /// wider than 24 bits, a reserved MTU or packet rate encoding, more than 15 retries).
  Expected<ConnId, Error> connect(Time now, const ConnectParams& p);
  /// Sends REP for a received REQ (REQ_RCVD or MRA_REQ_SENT).
  Status accept(Time now, ConnId c, const AcceptParams& p);
  /// Sends REJ for a received REQ or REP; the connection ends (no TIMEWAIT).
  Status reject(Time now, ConnId c, wire::RejReason reason, std::span<const uint8_t> ari = {},
                std::span<const uint8_t> private_data = {});
  /// Sends MRA for the REQ, REP or LAP we received and have not answered yet.
  Status send_mra(Time now, ConnId c, uint8_t service_timeout,
                  std::span<const uint8_t> private_data = {});
  /// Sends RTU after a REP (REP_RCVD or MRA_REP_SENT): the connection is ESTABLISHED. This and
  /// establish() emit `established`: with no room for it they fail with QueueFull, changing
  /// nothing.
  Status send_rtu(Time now, ConnId c, std::span<const uint8_t> private_data = {});
  /// Communication established: data arrived before the RTU (passive side, REP_SENT).
  Status establish(Time now, ConnId c);
  /// Sends DREQ for an ESTABLISHED connection.
  Status disconnect(Time now, ConnId c, std::span<const uint8_t> private_data = {});
  /// Sends DREP for a received DREQ: the connection enters TIMEWAIT.
  Status send_drep(Time now, ConnId c, std::span<const uint8_t> private_data = {});
  /// Sends LAP: load this alternate path (ours as local) on an ESTABLISHED connection.
  Status load_alternate_path(Time now, ConnId c, const wire::PathInfo& alt,
                             std::span<const uint8_t> private_data = {});
  /// Answers a LAP with APR; on Success the LAP's path becomes the alternate path.
  Status send_apr(Time now, ConnId c, wire::ApStatus status, std::span<const uint8_t> info = {},
                  std::span<const uint8_t> private_data = {});
  /// Path migration: the alternate path becomes the primary one (after the QP migrated).
  Status migrate(ConnId c);
  Expected<SidrId, Error> sidr_request(Time now, const SidrParams& p);
  Status sidr_reply(Time now, SidrId id, const SidrReplyParams& p);
  /// Ends a connection in any state the way the spec asks (REJ, DREQ + TIMEWAIT, DREP ...). No
  /// event is delivered for it afterwards; if it passes through TIMEWAIT its QPN stays protected.
  void destroy(Time now, ConnId c);

  // --- queries ---
  Expected<QpAttr, Error> qp_attributes(ConnId c, QpState target) const;
  std::optional<State> state(ConnId c) const;
  std::optional<LapState> lap_state(ConnId c) const;
  const Counters& counters() const;
  size_t connection_count() const;  ///< every connection object, TIMEWAIT included
  size_t timer_count() const;       ///< armed timers (0 after a full drain: nothing leaks)
  size_t sidr_count() const;
  /// Every connection object (like `rdma res show cm_id`), in no particular order. O(slots): for
  /// tools and invariant checks, not for the data path.
  std::vector<ConnectionInfo> connections() const;
  const Config& config() const;
  void set_logger(Logger log);

  class IBCM_PRIVATE Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ibcm

IBCM_API_END
