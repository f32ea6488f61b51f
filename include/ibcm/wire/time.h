/// @file
/// CM time values: a 5-bit exponent t on the wire means 4.096 us * 2^t.
#pragma once

#include <chrono>
#include <cstdint>

#include "ibcm/api.h"

IBCM_API_BEGIN

namespace ibcm::wire {

using Nanos = std::chrono::nanoseconds;

/// Exact: 4.096 us is 4096 ns, so every t in 0..31 is a whole number of nanoseconds.
constexpr Nanos cm_time(uint8_t t) {
  return Nanos(int64_t{4096} << (t & 31));
}

/// The smallest exponent whose time is at least d (saturating at 31); cm_time(to_cm_time(d)) >= d.
constexpr uint8_t to_cm_time(Nanos d) {
  for (uint8_t t = 0; t < 31; ++t)
    if (cm_time(t) >= d) return t;
  return 31;
}

}  // namespace ibcm::wire

IBCM_API_END
