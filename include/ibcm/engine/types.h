/// @file
/// Vocabulary of the CM engine: time, addresses, connection handles, states.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "ibcm/api.h"
#include "ibcm/wire/types.h"

IBCM_API_BEGIN

namespace ibcm {

/// Time is injected: nanoseconds since an epoch of the caller's choosing (monotonic).
using Time = std::chrono::nanoseconds;

/// Where a MAD comes from or goes to. On RoCE the GID is the IP address (IPv4-mapped for IPv4)
/// and LIDs are 0xFFFF; on the simulated fabric the GID names the node.
struct Address {
  wire::Gid gid{};
  uint16_t lid = 0xFFFF;
  uint32_t qpn = 1;  ///< the GSI QP
  uint16_t pkey = 0xFFFF;
  /// The transport's port: the UDP port for MAD-over-UDP, the UDP source port on RoCEv2 (0: the
  /// transport's default). The engine never interprets it; replies go back to where MADs came from.
  uint16_t port = 0;
  bool operator==(const Address&) const = default;
};

/// A connection as the consumer names it: its local communication ID (never 0).
using ConnId = uint32_t;
using ListenId = uint32_t;
/// A SIDR request as the consumer names it: its RequestID.
using SidrId = uint32_t;

/// Connection states, with the names Linux and the spec use.
enum class State : uint8_t {
  Idle,
  ReqSent,
  ReqRcvd,
  MraReqSent,  ///< we received a REQ and sent MRA for it
  MraReqRcvd,  ///< we sent a REQ and received MRA for it
  RepSent,
  RepRcvd,
  MraRepSent,
  MraRepRcvd,
  Established,
  DreqSent,
  DreqRcvd,
  TimeWait,
  kCount,
};
std::string_view to_string(State s);

/// The alternate-path sub-state of an ESTABLISHED connection.
enum class LapState : uint8_t { Idle, LapSent, LapRcvd, MraLapSent, MraLapRcvd };

/// One connection as the queries see it.
struct ConnectionInfo {
  ConnId id = 0;
  State state = State::Idle;
  bool active = false;  ///< we sent the REQ
  uint32_t local_qpn = 0;
  uint32_t remote_qpn = 0;  ///< 0 until the peer named its QP
  uint32_t remote_id = 0;   ///< the peer's comm ID, 0 until known
  uint64_t remote_ca_guid = 0;
  Address peer;
  bool timer_armed = false;
};
std::string_view to_string(LapState s);

/// Errors the consumer API returns.
enum class Error : uint8_t {
  UnknownConnection,   ///< no connection with that ID
  InvalidState,        ///< the call is not allowed in the connection's current state
  QpnInTimeWait,       ///< the local QPN still belongs to a connection in TIMEWAIT
  QpnInUse,            ///< the local QPN belongs to a live connection
  PrivateDataTooLong,  ///< more private data than the message carries
  InvalidArgument,     ///< a field out of its range (e.g. QPN > 24 bits)
  ServiceInUse,        ///< listen: that service ID / mask is already taken
  UnknownListener,
  UnknownSidr,
  LimitReached,  ///< a configured resource limit
  QueueFull,     ///< the event queue has no room for the call's event: drain poll_event(), retry
};
std::string_view to_string(Error e);

}  // namespace ibcm

IBCM_API_END
