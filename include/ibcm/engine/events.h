/// @file
/// What the engine tells its consumer. Each event names the connection (its local comm ID) and
/// carries the message that caused it, so private data, reasons and remote QPN/PSN are at hand.
#pragma once

#include <string_view>
#include <variant>

#include "ibcm/api.h"
#include "ibcm/engine/types.h"
#include "ibcm/wire/messages.h"

IBCM_API_BEGIN

namespace ibcm {

namespace ev {
struct ReqReceived {
  ConnId conn;
  ListenId listener;
  Address from;
  wire::Req req;
  bool peer_to_peer = false;  ///< we had sent a REQ too and lost the collision: we are passive
};
struct MraReceived {
  ConnId conn;
  wire::Mra mra;
};
struct RejReceived {
  ConnId conn;
  State prior;  ///< the state the REJ found us in
  wire::Rej rej;
};
struct RepReceived {
  ConnId conn;
  wire::Rep rep;
};
struct RtuReceived {
  ConnId conn;
  wire::Rtu rtu;
};
/// The connection entered ESTABLISHED (RTU sent or received, or establish()).
struct Established {
  ConnId conn;
};
struct DreqReceived {
  ConnId conn;
  wire::Dreq dreq;
};
struct DrepReceived {
  ConnId conn;
  wire::Drep drep;
};
struct LapReceived {
  ConnId conn;
  wire::Lap lap;
};
struct AprReceived {
  ConnId conn;
  wire::Apr apr;
};
struct SidrReqReceived {
  SidrId id;  ///< answer with sidr_reply(id, ...)
  ListenId listener;
  Address from;
  wire::SidrReq req;
};
struct SidrRepReceived {
  SidrId id;
  wire::SidrRep rep;
};
/// No REP after every retry; a REJ 4 was sent.
struct ReqTimeout {
  ConnId conn;
};
/// No RTU after every retry; a REJ 4 was sent; the connection is in TIMEWAIT.
struct RepTimeout {
  ConnId conn;
};
struct LapTimeout {
  ConnId conn;
};
/// No DREP after every retry: the connection went to TIMEWAIT anyway.
struct DreqTimeout {
  ConnId conn;
};
struct SidrTimeout {
  SidrId id;
};
/// TIMEWAIT is over: the QP may be reused.
struct TimeWaitExit {
  ConnId conn;
};
/// A message proved that the peer no longer has this connection (a REQ or REP from the same remote
/// QPN and CA GUID). We sent DREQ for it (or DREP, if it was in DREQ_RCVD).
struct StaleConnection {
  ConnId conn;
  uint32_t remote_qpn;
  uint64_t remote_ca_guid;
};
/// The engine ended a connection attempt itself, sending REJ with this reason: a REP that named a
/// stale connection (10; the connection is in TIMEWAIT), or a half-open passive connection
/// evicted from a full backlog by a newer REQ (3, NoResources; the connection is gone).
struct Aborted {
  ConnId conn;
  wire::RejReason reason;
};
}  // namespace ev

using Event =
    std::variant<ev::ReqReceived, ev::MraReceived, ev::RejReceived, ev::RepReceived,
                 ev::RtuReceived, ev::Established, ev::DreqReceived, ev::DrepReceived,
                 ev::LapReceived, ev::AprReceived, ev::SidrReqReceived, ev::SidrRepReceived,
                 ev::ReqTimeout, ev::RepTimeout, ev::LapTimeout, ev::DreqTimeout, ev::SidrTimeout,
                 ev::TimeWaitExit, ev::StaleConnection, ev::Aborted>;

/// snake_case name: "req_received", "dreq_timeout", "timewait_exit", ...
std::string_view event_name(const Event& e);
/// The connection an event is about (0 for SIDR events).
ConnId event_conn(const Event& e);

}  // namespace ibcm

IBCM_API_END
