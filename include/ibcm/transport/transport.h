/// @file
/// What sits below a Cm: something that moves 256-byte MADs to and from Addresses. The runtime
/// (runtime.h) drives a Cm with one Transport and the monotonic clock.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "ibcm/api.h"
#include "ibcm/engine/cm.h"
#include "ibcm/transport/ip_address.h"

IBCM_API_BEGIN

namespace ibcm {

struct Received {
  Address from;
  wire::MadBytes mad;
  uint16_t length =
      0;  ///< bytes actually received (a MAD is 256; anything else is passed on as is)
};

struct TransportCounters {
  uint64_t rx_packets = 0;
  uint64_t tx_packets = 0;
  uint64_t rx_dropped = 0;  ///< not a MAD for us: the sum of the rx_* reasons below
  uint64_t tx_errors = 0;   ///< sends that failed (full socket buffer, no route, ...)
  /// RoCEv2 drop reasons, in the order they are checked.
  uint64_t rx_malformed = 0;      ///< not a RoCEv2 packet its headers describe
  uint64_t rx_not_ud = 0;         ///< BTH opcode other than UD SEND only (RC data, say)
  uint64_t rx_other_address = 0;  ///< to another local address (raw sockets see every one)
  uint64_t rx_bad_icrc = 0;
  uint64_t rx_bad_pkey = 0;  ///< BTH P_Key does not match ours (pkey_matches)
  uint64_t rx_other_qp = 0;  ///< destination QP or DETH source QP not the GSI QP 1
  uint64_t rx_bad_qkey = 0;  ///< DETH Q_Key not the GSI Q_Key
  /// umad: a report of the MAD layer on one of our sends (non-zero status), not a MAD.
  uint64_t rx_mad_status = 0;
};

/// Every counter by name, for printing and tests: one list, so a new counter cannot be left out.
struct TransportCounterField {
  std::string_view name;
  uint64_t TransportCounters::*value;
};
inline constexpr std::array<TransportCounterField, 12> kTransportCounterFields{{
    {"rx_packets", &TransportCounters::rx_packets},
    {"tx_packets", &TransportCounters::tx_packets},
    {"rx_dropped", &TransportCounters::rx_dropped},
    {"tx_errors", &TransportCounters::tx_errors},
    {"rx_malformed", &TransportCounters::rx_malformed},
    {"rx_not_ud", &TransportCounters::rx_not_ud},
    {"rx_other_address", &TransportCounters::rx_other_address},
    {"rx_bad_icrc", &TransportCounters::rx_bad_icrc},
    {"rx_bad_pkey", &TransportCounters::rx_bad_pkey},
    {"rx_other_qp", &TransportCounters::rx_other_qp},
    {"rx_bad_qkey", &TransportCounters::rx_bad_qkey},
    {"rx_mad_status", &TransportCounters::rx_mad_status},
}};
static_assert(sizeof(TransportCounters) == kTransportCounterFields.size() * sizeof(uint64_t),
              "every TransportCounters member is in kTransportCounterFields");

/// The last send that failed for a reason sending again will not cure (no route, say); a full
/// socket buffer is only counted in tx_errors, since the CM retries on its own.
struct SendError {
  int code = 0;        ///< errno
  std::string to;      ///< where it was going, as IpEndpoint::to_string() writes it
  uint64_t count = 0;  ///< how many such failures so far (changes with each one)
};

class Transport {
 public:
  virtual ~Transport() = default;
  /// A descriptor that becomes readable when receive() may return something.
  virtual int fd() const = 0;
  /// Non-blocking: fills up to out.size() entries, returns how many.
  virtual size_t receive(std::span<Received> out) = 0;
  /// Sends a batch; errors are counted (and the lasting ones kept in send_error()), never thrown.
  virtual void send(std::span<const Transmit> batch) = 0;
  /// This port's address as the engine should know it (Config::local).
  virtual Address local() const = 0;
  virtual const TransportCounters& counters() const = 0;
  virtual std::string name() const = 0;
  const SendError& send_error() const { return send_error_; }

 protected:
  /// Counts a failed send (tx_errors); keeps it in send_error() unless it is transient.
  void count_send_error(TransportCounters& c, int code, const IpEndpoint& to);

 private:
  SendError send_error_;
};

}  // namespace ibcm

IBCM_API_END
