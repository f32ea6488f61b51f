// Names of states, errors, counters and events, as logs, JSON and the CLI show them.
#include "ibcm/engine/counters.h"
#include "ibcm/engine/events.h"
#include "ibcm/engine/types.h"

namespace ibcm {

std::string_view to_string(State s) {
  switch (s) {
    case State::Idle:
      return "IDLE";
    case State::ReqSent:
      return "REQ_SENT";
    case State::ReqRcvd:
      return "REQ_RCVD";
    case State::MraReqSent:
      return "MRA_REQ_SENT";
    case State::MraReqRcvd:
      return "MRA_REQ_RCVD";
    case State::RepSent:
      return "REP_SENT";
    case State::RepRcvd:
      return "REP_RCVD";
    case State::MraRepSent:
      return "MRA_REP_SENT";
    case State::MraRepRcvd:
      return "MRA_REP_RCVD";
    case State::Established:
      return "ESTABLISHED";
    case State::DreqSent:
      return "DREQ_SENT";
    case State::DreqRcvd:
      return "DREQ_RCVD";
    case State::TimeWait:
      return "TIMEWAIT";
    case State::kCount:
      break;
  }
  return "?";
}

std::string_view to_string(LapState s) {
  switch (s) {
    case LapState::Idle:
      return "LAP_IDLE";
    case LapState::LapSent:
      return "LAP_SENT";
    case LapState::LapRcvd:
      return "LAP_RCVD";
    case LapState::MraLapSent:
      return "MRA_LAP_SENT";
    case LapState::MraLapRcvd:
      return "MRA_LAP_RCVD";
  }
  return "?";
}

std::string_view to_string(Error e) {
  switch (e) {
    case Error::UnknownConnection:
      return "unknown connection";
    case Error::InvalidState:
      return "not allowed in the connection's state";
    case Error::QpnInTimeWait:
      return "the QPN is still in TIMEWAIT";
    case Error::QpnInUse:
      return "the QPN belongs to a live connection";
    case Error::PrivateDataTooLong:
      return "private data too long";
    case Error::InvalidArgument:
      return "invalid argument";
    case Error::ServiceInUse:
      return "service ID already has a listener";
    case Error::UnknownListener:
      return "unknown listener";
    case Error::UnknownSidr:
      return "unknown SIDR request";
    case Error::LimitReached:
      return "resource limit reached";
    case Error::QueueFull:
      return "the event queue is full";
  }
  return "?";
}

std::string_view to_string(CountedMsg m) {
  static constexpr std::string_view kNames[] = {
      "req", "mra", "rej", "rep", "rtu", "dreq", "drep", "sidr_req", "sidr_rep", "lap", "apr"};
  auto i = static_cast<size_t>(m);
  return i < std::size(kNames) ? kNames[i] : "?";
}

static_assert(counted_msg(0x10) == CountedMsg::Req && counted_msg(0x11) == CountedMsg::Mra &&
                  counted_msg(0x12) == CountedMsg::Rej && counted_msg(0x13) == CountedMsg::Rep &&
                  counted_msg(0x14) == CountedMsg::Rtu && counted_msg(0x15) == CountedMsg::Dreq &&
                  counted_msg(0x16) == CountedMsg::Drep &&
                  counted_msg(0x17) == CountedMsg::SidrReq &&
                  counted_msg(0x18) == CountedMsg::SidrRep &&
                  counted_msg(0x19) == CountedMsg::Lap && counted_msg(0x1A) == CountedMsg::Apr &&
                  counted_msg(0x0F) == CountedMsg::kCount &&
                  counted_msg(0x1B) == CountedMsg::kCount,
              "counted_msg: the CM attribute IDs in CountedMsg's order");

std::string_view to_string(Drop d) {
  switch (d) {
    case Drop::ShortBuffer:
      return "short_buffer";
    case Drop::LongBuffer:
      return "long_buffer";
    case Drop::BaseVersion:
      return "base_version";
    case Drop::MgmtClass:
      return "mgmt_class";
    case Drop::ClassVersion:
      return "class_version";
    case Drop::Method:
      return "method";
    case Drop::UnknownAttribute:
      return "unknown_attribute";
    case Drop::LengthField:
      return "length_field";
    case Drop::UnknownConnection:
      return "unknown_connection";
    case Drop::InvalidState:
      return "invalid_state";
    case Drop::WrongSource:
      return "wrong_source";
    case Drop::WrongRemoteQpn:
      return "wrong_remote_qpn";
    case Drop::DuplicateDropped:
      return "duplicate";
    case Drop::PeerToPeerLost:
      return "peer_to_peer_lost";
    case Drop::TxQueueFull:
      return "tx_queue_full";
    case Drop::EventQueueFull:
      return "event_queue_full";
    case Drop::UnsupportedMad:
      return "unsupported_mad";
    case Drop::LimitReached:
      return "limit_reached";
    case Drop::StaleSpoofed:
      return "stale_spoofed";
    case Drop::kCount:
      break;
  }
  return "?";
}

uint64_t Counters::total_drops() const {
  uint64_t n = 0;
  for (auto d : drops) n += d;
  return n;
}

namespace {
template <class T>
constexpr std::string_view name_of_event();
#define IBCM_EVENT_NAME(T, name)                      \
  template <>                                         \
  constexpr std::string_view name_of_event<ev::T>() { \
    return name;                                      \
  }
IBCM_EVENT_NAME(ReqReceived, "req_received")
IBCM_EVENT_NAME(MraReceived, "mra_received")
IBCM_EVENT_NAME(RejReceived, "rej_received")
IBCM_EVENT_NAME(RepReceived, "rep_received")
IBCM_EVENT_NAME(RtuReceived, "rtu_received")
IBCM_EVENT_NAME(Established, "established")
IBCM_EVENT_NAME(DreqReceived, "dreq_received")
IBCM_EVENT_NAME(DrepReceived, "drep_received")
IBCM_EVENT_NAME(LapReceived, "lap_received")
IBCM_EVENT_NAME(AprReceived, "apr_received")
IBCM_EVENT_NAME(SidrReqReceived, "sidr_req_received")
IBCM_EVENT_NAME(SidrRepReceived, "sidr_rep_received")
IBCM_EVENT_NAME(ReqTimeout, "req_timeout")
IBCM_EVENT_NAME(RepTimeout, "rep_timeout")
IBCM_EVENT_NAME(LapTimeout, "lap_timeout")
IBCM_EVENT_NAME(DreqTimeout, "dreq_timeout")
IBCM_EVENT_NAME(SidrTimeout, "sidr_timeout")
IBCM_EVENT_NAME(TimeWaitExit, "timewait_exit")
IBCM_EVENT_NAME(StaleConnection, "stale_connection")
IBCM_EVENT_NAME(Aborted, "aborted")
#undef IBCM_EVENT_NAME
}  // namespace

std::string_view event_name(const Event& e) {
  return std::visit([](const auto& x) { return name_of_event<std::decay_t<decltype(x)>>(); }, e);
}

ConnId event_conn(const Event& e) {
  return std::visit(
      [](const auto& x) -> ConnId {
        if constexpr (requires { x.conn; })
          return x.conn;
        else
          return 0;
      },
      e);
}

}  // namespace ibcm
