/// @file
/// Counters with the names Linux exposes per port (cm_tx_msgs, cm_tx_retries, cm_rx_msgs,
/// cm_rx_duplicates, per message type), plus drops by reason.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "ibcm/api.h"
#include "ibcm/wire/types.h"

IBCM_API_BEGIN

namespace ibcm {

/// Message types counted, in Linux's order.
enum class CountedMsg : uint8_t {
  Req,
  Mra,
  Rej,
  Rep,
  Rtu,
  Dreq,
  Drep,
  SidrReq,
  SidrRep,
  Lap,
  Apr,
  kCount
};
std::string_view to_string(CountedMsg m);  ///< "req", "mra", ... as Linux names them
/// The counted type of an attribute, or kCount for ClassPortInfo / unknown. Inline: three calls on
/// every MAD's path.
constexpr CountedMsg counted_msg(uint16_t attr_id) {
  // REQ 0x10 ... APR 0x1A, in the enum's order (checked in names.cpp).
  if (attr_id < 0x10 || attr_id > 0x1A) return CountedMsg::kCount;
  return static_cast<CountedMsg>(attr_id - 0x10);
}

enum class Drop : uint8_t {
  ShortBuffer,
  LongBuffer,
  BaseVersion,
  MgmtClass,
  ClassVersion,
  Method,
  UnknownAttribute,
  LengthField,
  UnknownConnection,  ///< names no connection we have
  InvalidState,       ///< valid message, but not in this connection's state
  WrongSource,        ///< names a real connection but comes from another address / CA / QP
  WrongRemoteQpn,     ///< DREQ whose RemoteQPN is not our QPN
  DuplicateDropped,   ///< a duplicate that needs no answer
  PeerToPeerLost,     ///< a peer-to-peer REQ from the side that becomes passive
  /// max_pending_tx reached: a MAD we send was not queued (its retry, or the peer's, sends it
  /// again), or a received MAD was refused unprocessed for want of room for its answers
  TxQueueFull,
  /// max_pending_events reached: a received MAD was refused unprocessed, before any state change
  /// (events themselves are never dropped; the sender's retry brings the MAD back)
  EventQueueFull,
  UnsupportedMad,  ///< answered with a MAD status instead of being processed
  LimitReached,    ///< a configured resource limit (REJ 3 / SIDR rejected was sent)
  /// a REQ or REP claiming the QPN and CA GUID of a connection we hold, from a GID that is not that
  /// connection's peer: REJ 10, and the connection is left alone
  StaleSpoofed,
  kCount,
};
std::string_view to_string(Drop d);

struct MsgCounters {
  uint64_t tx = 0;
  uint64_t tx_retries = 0;
  uint64_t rx = 0;
  uint64_t rx_duplicates = 0;
};

struct Counters {
  std::array<MsgCounters, static_cast<size_t>(CountedMsg::kCount)> msg{};
  std::array<uint64_t, static_cast<size_t>(Drop::kCount)> drops{};
  uint64_t rej_sent_stale = 0;     ///< REJ 10 sent
  uint64_t dreq_sent_stale = 0;    ///< DREQ sent for a stale connection
  uint64_t half_open_evicted = 0;  ///< oldest half-open connections ended to admit a new REQ
  uint64_t sidr_evicted = 0;       ///< oldest incoming SIDR entries dropped to admit a new SIDR_REQ
  uint64_t class_port_info_answered = 0;
  uint64_t reqs_waited = 0;  ///< connects whose REQ waited for Config::max_reqs_in_flight
  /// handle_timeout calls that left due timers armed because an output queue was full (they run
  /// once the queues are drained)
  uint64_t timers_held = 0;

  MsgCounters& of(CountedMsg m) { return msg[static_cast<size_t>(m)]; }
  const MsgCounters& of(CountedMsg m) const { return msg[static_cast<size_t>(m)]; }
  uint64_t& drop(Drop d) { return drops[static_cast<size_t>(d)]; }
  uint64_t drop(Drop d) const { return drops[static_cast<size_t>(d)]; }
  uint64_t total_drops() const;
};

}  // namespace ibcm

IBCM_API_END
