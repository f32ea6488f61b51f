// The CM state machine as two explicit tables, to be read against IBTA Vol 1 ch. 12 (the state
// diagrams of 12.9 and the alternate-path diagram of 12.8): what each message or timeout does in
// each connection state. A REQ that matches no connection and a DREQ for an unknown connection
// are not cells here: they create or answer without a connection (routes.h says which). A stale
// claim is: the REQ or REP that makes it names no connection, but the connection whose QPN it
// claims is the input's subject (REQ_SENT and MRA_REQ_RCVD know no peer QPN yet, and TIMEWAIT has
// released it, so no claim reaches them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>

#include "ibcm/engine/types.h"

namespace ibcm::engine {

// Stale: a REQ or REP from the connection's peer claims the QPN the connection holds as the
// peer's (a new comm ID from a QP we are still connected to: the peer has forgotten us).
enum class Input : uint8_t {
  Req,
  Mra,
  Rej,
  Rep,
  Rtu,
  Dreq,
  Drep,
  Lap,
  Apr,
  Stale,
  Timeout,
  kCount
};

enum class Act : uint8_t {
  Drop,
  DupDrop,
  ResendMra,
  ResendRtu,
  ResendDrep,
  RejStale,
  MraWait,
  RejConnect,
  RepAccept,
  RtuEstablish,
  DreqAccept,
  DreqCollide,
  DrepTimeWait,
  RetryReq,
  RetryRep,
  RetryDreq,
  ExitTimeWait,
  Lap,
  StaleDreq,
  StaleReport,
  StaleDrep,
};

// What each action does, in the order of Act (docs/engine.md shows these with the tables).
struct ActDoc {
  const char* name;
  const char* what;
};
inline constexpr ActDoc kActDocs[] = {
    {"Drop", "not valid in this state: counted (Drop::InvalidState) and ignored"},
    {"DupDrop", "a duplicate that needs no answer: counted (rx_duplicates)"},
    {"ResendMra", "a duplicate of what we MRAed: send the MRA again"},
    {"ResendRtu", "a duplicate REP after our RTU: send the RTU again"},
    {"ResendDrep", "a duplicate DREQ in TIMEWAIT: send the DREP again"},
    {"RejStale", "a duplicate REQ for a connection in TIMEWAIT: REJ 10"},
    {"MraWait", "MRA for what we sent: stop retrying, wait ServiceTimeout + PacketLifeTime"},
    {"RejConnect", "REJ during establishment: the attempt ends (TIMEWAIT if reason 10)"},
    {"RepAccept", "REP for our REQ (after the stale check): REP_RCVD"},
    {"RtuEstablish", "RTU for our REP: ESTABLISHED"},
    {"DreqAccept", "DREQ for a connection the peer considers established: DREQ_RCVD"},
    {"DreqCollide", "DREQ while our DREQ is outstanding: DREQ_RCVD (we then send DREP)"},
    {"DrepTimeWait", "DREP for our DREQ: TIMEWAIT"},
    {"RetryReq", "REQ timer: resend REQ, or REJ 4 + REQ timeout when retries are spent"},
    {"RetryRep", "REP timer: resend REP, or REJ 4 + REP timeout (TIMEWAIT)"},
    {"RetryDreq", "DREQ timer: resend DREQ, or DREQ timeout + TIMEWAIT"},
    {"ExitTimeWait", "TIMEWAIT over: the connection and its QPN are released"},
    {"Lap", "alternate-path message or timer: see the LAP table"},
    {"StaleDreq",
     "stale claim: DREQ naming the reused QPN (DREQ_SENT, retried), consumer told "
     "(stale_connection); the claim itself gets REJ 10"},
    {"StaleReport", "stale claim while our DREQ is out: it already names that QPN; consumer told"},
    {"StaleDrep", "stale claim after the peer's DREQ: DREP, TIMEWAIT, consumer told"},
};
static_assert(std::size(kActDocs) == static_cast<size_t>(Act::StaleDrep) + 1);

constexpr size_t kStates = static_cast<size_t>(State::kCount);
constexpr size_t kInputs = static_cast<size_t>(Input::kCount);

// clang-format off
inline constexpr Act kTable[kStates][kInputs] = {
  //                 REQ          MRA           REJ            REP            RTU              DREQ            DREP             LAP        APR        stale claim        Timeout
  /* Idle        */ {Act::Drop,    Act::Drop,    Act::Drop,     Act::Drop,     Act::Drop,       Act::Drop,        Act::Drop,         Act::Drop, Act::Drop, Act::Drop,         Act::Drop},
  /* ReqSent     */ {Act::Drop,    Act::MraWait, Act::RejConnect, Act::RepAccept, Act::Drop,     Act::Drop,        Act::Drop,         Act::Drop, Act::Drop, Act::Drop,         Act::RetryReq},
  /* ReqRcvd     */ {Act::DupDrop, Act::Drop,    Act::RejConnect, Act::Drop,     Act::Drop,       Act::Drop,        Act::Drop,         Act::Drop, Act::Drop, Act::StaleDreq,    Act::Drop},
  /* MraReqSent  */ {Act::ResendMra, Act::Drop,  Act::RejConnect, Act::Drop,     Act::Drop,       Act::Drop,        Act::Drop,         Act::Drop, Act::Drop, Act::StaleDreq,    Act::Drop},
  /* MraReqRcvd  */ {Act::Drop,    Act::DupDrop, Act::RejConnect, Act::RepAccept, Act::Drop,     Act::Drop,        Act::Drop,         Act::Drop, Act::Drop, Act::Drop,         Act::RetryReq},
  /* RepSent     */ {Act::DupDrop, Act::MraWait, Act::RejConnect, Act::Drop,     Act::RtuEstablish, Act::DreqAccept, Act::Drop,        Act::Drop, Act::Drop, Act::StaleDreq,    Act::RetryRep},
  /* RepRcvd     */ {Act::Drop,    Act::Drop,    Act::RejConnect, Act::DupDrop,  Act::Drop,       Act::DreqAccept,  Act::Drop,         Act::Drop, Act::Drop, Act::StaleDreq,    Act::Drop},
  /* MraRepSent  */ {Act::Drop,    Act::Drop,    Act::RejConnect, Act::ResendMra, Act::Drop,      Act::DreqAccept,  Act::Drop,         Act::Drop, Act::Drop, Act::StaleDreq,    Act::Drop},
  /* MraRepRcvd  */ {Act::DupDrop, Act::DupDrop, Act::RejConnect, Act::Drop,     Act::RtuEstablish, Act::DreqAccept, Act::Drop,        Act::Drop, Act::Drop, Act::StaleDreq,    Act::RetryRep},
  /* Established */ {Act::DupDrop, Act::Lap,     Act::Lap,      Act::ResendRtu,  Act::DupDrop,    Act::DreqAccept,  Act::Drop,         Act::Lap,  Act::Lap,  Act::StaleDreq,    Act::Lap},
  /* DreqSent    */ {Act::DupDrop, Act::Drop,    Act::Drop,     Act::Drop,      Act::Drop,       Act::DreqCollide, Act::DrepTimeWait, Act::Drop, Act::Drop, Act::StaleReport,  Act::RetryDreq},
  /* DreqRcvd    */ {Act::DupDrop, Act::Drop,    Act::Drop,     Act::Drop,      Act::Drop,       Act::DupDrop,     Act::Drop,         Act::Drop, Act::Drop, Act::StaleDrep,    Act::Drop},
  /* TimeWait    */ {Act::RejStale, Act::Drop,   Act::Drop,     Act::Drop,      Act::Drop,       Act::ResendDrep,  Act::DupDrop,      Act::Drop, Act::Drop, Act::Drop,         Act::ExitTimeWait},
};
// clang-format on

// The alternate-path machine of an ESTABLISHED connection (LAP / APR / MRA(other) / REJ(other)).
enum class LapInput : uint8_t { Lap, Apr, Mra, Rej, Timeout, kCount };
enum class LapAct : uint8_t {
  Drop,
  DupDrop,
  ResendMra,
  LapAccept,
  AprDone,
  MraWait,
  LapRejected,
  PeerAbandoned,
  RetryLap,
};

inline constexpr ActDoc kLapActDocs[] = {
    {"Drop", "not valid in this sub-state: counted and ignored"},
    {"DupDrop", "a duplicate that needs no answer: counted"},
    {"ResendMra", "duplicate LAP after our MRA"},
    {"LapAccept", "LAP received: LAP_RCVD, the consumer answers with APR (or MRA)"},
    {"AprDone", "APR for our LAP: back to idle (alternate loaded if APStatus is success)"},
    {"MraWait", "MRA for our LAP"},
    {"LapRejected", "REJ (MessageRejected = other) for our LAP"},
    {"PeerAbandoned",
     "REJ with no LAP of ours outstanding (or naming REQ/REP): the peer has given the connection "
     "up (e.g. its REP timed out because our RTU was lost: REJ 4). TIMEWAIT and RejReceived, as "
     "Linux does, rather than holding a connection the peer no longer has."},
    {"RetryLap", "LAP timer: resend, or LAP timeout"},
};
static_assert(std::size(kLapActDocs) == static_cast<size_t>(LapAct::RetryLap) + 1);

constexpr size_t kLapStates = 5;
constexpr size_t kLapInputs = static_cast<size_t>(LapInput::kCount);

// clang-format off
inline constexpr LapAct kLapTable[kLapStates][kLapInputs] = {
  //                 LAP                 APR              MRA               REJ                  Timeout
  /* Idle       */ {LapAct::LapAccept, LapAct::Drop,    LapAct::Drop,     LapAct::PeerAbandoned, LapAct::Drop},
  /* LapSent    */ {LapAct::Drop,      LapAct::AprDone, LapAct::MraWait,  LapAct::LapRejected, LapAct::RetryLap},
  /* LapRcvd    */ {LapAct::DupDrop,   LapAct::Drop,    LapAct::Drop,     LapAct::PeerAbandoned, LapAct::Drop},
  /* MraLapSent */ {LapAct::ResendMra, LapAct::Drop,    LapAct::Drop,     LapAct::PeerAbandoned, LapAct::Drop},
  /* MraLapRcvd */ {LapAct::Drop,      LapAct::AprDone, LapAct::DupDrop,  LapAct::LapRejected, LapAct::RetryLap},
};
// clang-format on

// The consumer's calls, as a table beside the messages': what each call does in each state. A
// call whose cell is Refuse fails with Error::InvalidState and changes nothing; every other cell is
// the one thing the call does there (arguments are checked after the table, before any change).
// destroy() is a column like the others: what ends a connection in each state is read here.
enum class Call : uint8_t {
  Accept,
  Reject,
  SendMra,
  SendRtu,
  Establish,
  Disconnect,
  SendDrep,
  LoadAlternatePath,
  SendApr,
  Migrate,
  Destroy,
  kCount
};

enum class CallAct : uint8_t {
  Refuse,
  SendRep,
  RejectReq,
  RejectRep,
  MraReq,
  MraRep,
  SendRtu,
  Establish,
  SendDreq,
  DrepTimeWait,
  Migrate,
  Free,
  RejTimeout,
  RejectRepTimeWait,
  DreqOnceTimeWait,
  TimeWait,
  Ignore,
  Lap,
  SendLap,
  SendApr,
  MraLap,
};

inline constexpr ActDoc kCallActDocs[] = {
    {"Refuse", "not allowed in this state: Error::InvalidState, nothing changes"},
    {"SendRep", "REP (kept for retries and duplicate REQs): REP_SENT"},
    {"RejectReq", "REJ naming the REQ (the call's reason; destroy: 28): the connection is freed"},
    {"RejectRep", "REJ naming the REP (the call's reason; destroy: 28): the connection is freed"},
    {"MraReq", "MRA naming the REQ: MRA_REQ_SENT (a duplicate REQ gets it again)"},
    {"MraRep", "MRA naming the REP: MRA_REP_SENT (a duplicate REP gets it again)"},
    {"SendRtu", "RTU: ESTABLISHED (a duplicate REP gets the RTU again)"},
    {"Establish", "no RTU came but the peer uses the connection: ESTABLISHED"},
    {"SendDreq", "DREQ (retried): DREQ_SENT; a LAP in flight is abandoned"},
    {"DrepTimeWait", "DREP: TIMEWAIT"},
    {"Migrate", "the alternate path becomes the primary (needs an alternate path)"},
    {"Free", "nothing was sent: the record is freed"},
    {"RejTimeout", "REJ 4 naming our CA, as Linux does: the peer stops waiting; freed"},
    {"RejectRepTimeWait",
     "REJ 28 naming the REP; the peer may already use the connection: TIMEWAIT keeps the QPN"},
    {"DreqOnceTimeWait", "DREQ, sent once (no one is left to hear a DREP): TIMEWAIT"},
    {"TimeWait", "our DREQ is out: TIMEWAIT without waiting for its DREP"},
    {"Ignore", "TIMEWAIT runs out on its own and frees the record"},
    {"Lap", "an alternate-path call: see the LAP call table"},
    {"SendLap", "LAP (retried): LAP_SENT"},
    {"SendApr", "APR (the alternate is loaded if its status is success): idle"},
    {"MraLap", "MRA naming the LAP: MRA_LAP_SENT"},
};
static_assert(std::size(kCallActDocs) == static_cast<size_t>(CallAct::MraLap) + 1);

constexpr size_t kCalls = static_cast<size_t>(Call::kCount);

// clang-format off
inline constexpr CallAct kCallTable[kStates][kCalls] = {
  //                 accept            reject              send_mra          send_rtu          establish           disconnect          send_drep               load_alternate_path send_apr       migrate           destroy
  /* Idle        */ {CallAct::Refuse,  CallAct::Refuse,    CallAct::Refuse,  CallAct::Refuse,  CallAct::Refuse,    CallAct::Refuse,    CallAct::Refuse,        CallAct::Refuse, CallAct::Refuse,  CallAct::Refuse,  CallAct::Free},
  /* ReqSent     */ {CallAct::Refuse,  CallAct::Refuse,    CallAct::Refuse,  CallAct::Refuse,  CallAct::Refuse,    CallAct::Refuse,    CallAct::Refuse,        CallAct::Refuse, CallAct::Refuse,  CallAct::Refuse,  CallAct::RejTimeout},
  /* ReqRcvd     */ {CallAct::SendRep, CallAct::RejectReq, CallAct::MraReq,  CallAct::Refuse,  CallAct::Refuse,    CallAct::Refuse,    CallAct::Refuse,        CallAct::Refuse, CallAct::Refuse,  CallAct::Refuse,  CallAct::RejectReq},
  /* MraReqSent  */ {CallAct::SendRep, CallAct::RejectReq, CallAct::Refuse,  CallAct::Refuse,  CallAct::Refuse,    CallAct::Refuse,    CallAct::Refuse,        CallAct::Refuse, CallAct::Refuse,  CallAct::Refuse,  CallAct::RejectReq},
  /* MraReqRcvd  */ {CallAct::Refuse,  CallAct::Refuse,    CallAct::Refuse,  CallAct::Refuse,  CallAct::Refuse,    CallAct::Refuse,    CallAct::Refuse,        CallAct::Refuse, CallAct::Refuse,  CallAct::Refuse,  CallAct::RejTimeout},
  /* RepSent     */ {CallAct::Refuse,  CallAct::Refuse,    CallAct::Refuse,  CallAct::Refuse,  CallAct::Establish, CallAct::Refuse,    CallAct::Refuse,        CallAct::Refuse, CallAct::Refuse,  CallAct::Refuse,  CallAct::RejectRepTimeWait},
  /* RepRcvd     */ {CallAct::Refuse,  CallAct::RejectRep, CallAct::MraRep,  CallAct::SendRtu, CallAct::Refuse,    CallAct::Refuse,    CallAct::Refuse,        CallAct::Refuse, CallAct::Refuse,  CallAct::Refuse,  CallAct::RejectRep},
  /* MraRepSent  */ {CallAct::Refuse,  CallAct::RejectRep, CallAct::Refuse,  CallAct::SendRtu, CallAct::Refuse,    CallAct::Refuse,    CallAct::Refuse,        CallAct::Refuse, CallAct::Refuse,  CallAct::Refuse,  CallAct::RejectRep},
  /* MraRepRcvd  */ {CallAct::Refuse,  CallAct::Refuse,    CallAct::Refuse,  CallAct::Refuse,  CallAct::Establish, CallAct::Refuse,    CallAct::Refuse,        CallAct::Refuse, CallAct::Refuse,  CallAct::Refuse,  CallAct::RejectRepTimeWait},
  /* Established */ {CallAct::Refuse,  CallAct::Refuse,    CallAct::Lap,     CallAct::Refuse,  CallAct::Refuse,    CallAct::SendDreq,  CallAct::Refuse,        CallAct::Lap,    CallAct::Lap,     CallAct::Migrate, CallAct::DreqOnceTimeWait},
  /* DreqSent    */ {CallAct::Refuse,  CallAct::Refuse,    CallAct::Refuse,  CallAct::Refuse,  CallAct::Refuse,    CallAct::Refuse,    CallAct::Refuse,        CallAct::Refuse, CallAct::Refuse,  CallAct::Refuse,  CallAct::TimeWait},
  /* DreqRcvd    */ {CallAct::Refuse,  CallAct::Refuse,    CallAct::Refuse,  CallAct::Refuse,  CallAct::Refuse,    CallAct::Refuse,    CallAct::DrepTimeWait,  CallAct::Refuse, CallAct::Refuse,  CallAct::Refuse,  CallAct::DrepTimeWait},
  /* TimeWait    */ {CallAct::Refuse,  CallAct::Refuse,    CallAct::Refuse,  CallAct::Refuse,  CallAct::Refuse,    CallAct::Refuse,    CallAct::Refuse,        CallAct::Refuse, CallAct::Refuse,  CallAct::Refuse,  CallAct::Ignore},
};

// The alternate-path calls of an ESTABLISHED connection, by its LAP sub-state.
inline constexpr CallAct kLapCallTable[kLapStates][3] = {
  //                 send_mra          load_alternate_path  send_apr
  /* Idle       */ {CallAct::Refuse,  CallAct::SendLap,    CallAct::Refuse},
  /* LapSent    */ {CallAct::Refuse,  CallAct::Refuse,     CallAct::Refuse},
  /* LapRcvd    */ {CallAct::MraLap,  CallAct::Refuse,     CallAct::SendApr},
  /* MraLapSent */ {CallAct::Refuse,  CallAct::Refuse,     CallAct::SendApr},
  /* MraLapRcvd */ {CallAct::Refuse,  CallAct::Refuse,     CallAct::Refuse},
};
// clang-format on

// What consumer call `k` does to a connection in state s (and LAP sub-state l): never Lap.
constexpr CallAct call_act(State s, LapState l, Call k) {
  const CallAct a = kCallTable[static_cast<size_t>(s)][static_cast<size_t>(k)];
  if (a != CallAct::Lap) return a;
  const size_t col = k == Call::SendMra ? 0 : k == Call::LoadAlternatePath ? 1 : 2;
  return kLapCallTable[static_cast<size_t>(l)][col];
}

constexpr Act act(State s, Input i) {
  return kTable[static_cast<size_t>(s)][static_cast<size_t>(i)];
}
constexpr LapAct lap_act(LapState s, LapInput i) {
  return kLapTable[static_cast<size_t>(s)][static_cast<size_t>(i)];
}

}  // namespace ibcm::engine
