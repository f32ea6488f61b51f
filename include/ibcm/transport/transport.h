// What sits below a Cm: something that moves 256-byte MADs to and from Addresses. The runtime
// (runtime.h) drives a Cm with one Transport and the monotonic clock.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "ibcm/engine/cm.h"

namespace ibcm {

struct Received {
  Address from;
  wire::MadBytes mad;
  uint16_t length = 0;  // bytes actually received (a MAD is 256; anything else is passed on as is)
};

struct TransportCounters {
  uint64_t rx_packets = 0;
  uint64_t tx_packets = 0;
  uint64_t rx_dropped = 0;  // not a MAD for us (bad framing, ICRC, other QP, ...)
  uint64_t tx_errors = 0;
  uint64_t rx_bad_icrc = 0;
  uint64_t rx_other_qp = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // A descriptor that becomes readable when receive() may return something.
  virtual int fd() const = 0;
  // Non-blocking: fills up to out.size() entries, returns how many.
  virtual size_t receive(std::span<Received> out) = 0;
  // Sends a batch; errors are counted, never thrown.
  virtual void send(std::span<const Transmit> batch) = 0;
  // This port's address as the engine should know it (Config::local).
  virtual Address local() const = 0;
  virtual const TransportCounters& counters() const = 0;
  virtual std::string name() const = 0;
};

}  // namespace ibcm
