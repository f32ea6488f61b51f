/// @file
/// The simulator's only source of randomness: xoshiro256** seeded through splitmix64, so a run is
/// a pure function of its seed on every platform (std::mt19937 would do, but the standard
/// distributions are not specified bit-for-bit across library implementations).
#pragma once

#include <chrono>
#include <cstdint>

#include "ibcm/api.h"

IBCM_API_BEGIN

namespace ibcm::sim {

/// splitmix64's finaliser: a bijective mix, also used to derive independent seeds.
constexpr uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) {
      seed = mix64(seed);
      w = seed;
    }
  }

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// Uniform in [0, n) (n > 0), without modulo bias (Lemire's method with rejection).
  uint64_t below(uint64_t n) {
    for (;;) {
      const unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
      const uint64_t low = static_cast<uint64_t>(m);
      if (low >= n || low >= (0 - n) % n) return static_cast<uint64_t>(m >> 64);
    }
  }

  /// Uniform in [0, 1) with 53 bits.
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  /// True with probability p; consumes a draw only when 0 < p < 1, so a link without faults does
  /// not shift the random stream of the links that have them.
  bool chance(double p) {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return unit() < p;
  }

  /// Uniform in [0, max] nanoseconds; no draw for max <= 0.
  std::chrono::nanoseconds upto(std::chrono::nanoseconds max) {
    if (max.count() <= 0) return std::chrono::nanoseconds{0};
    return std::chrono::nanoseconds{
        static_cast<int64_t>(below(static_cast<uint64_t>(max.count()) + 1))};
  }

 private:
  static constexpr uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace ibcm::sim

IBCM_API_END
