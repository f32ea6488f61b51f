// Local communication IDs are unique while in use and hard to guess: a keyed 32-bit permutation
// of a counter (keys from the injected seed). Distinct counters give distinct IDs, consecutive
// counters give unrelated-looking IDs, and the inverse gives back the counter, which is where the
// ID's record is found (local_ids.h). It is not a cipher against someone who collects IDs to
// recover the keys; it keeps an off-path sender from guessing the IDs in use, as Linux's counter
// XOR a random value is meant to.
//
// Two rounds of xor-key, multiply, xor-shift (the multipliers and shifts of a well-tested 32-bit
// integer hash). The inverse runs on every lookup by ID, several times a handshake, so it is kept
// to two multiplications: a four-round Feistel network took 11 % of a handshake at 1M live.
#pragma once

#include <cstdint>

namespace ibcm::engine {

// splitmix64: a fast, well-mixed generator for injected randomness (TIDs, keys).
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

class CommIdCipher {
 public:
  explicit CommIdCipher(uint64_t seed) {
    uint64_t s = seed ^ 0x636f6d6d2d696473ull;  // domain-separate from other uses of the seed
    for (auto& k : keys_) k = static_cast<uint32_t>(splitmix64(s));
    first_ = static_cast<uint32_t>(splitmix64(s));
  }

  uint32_t encrypt(uint32_t x) const {
    x ^= keys_[0];
    x *= kMul1;
    x ^= x >> 15;
    x ^= keys_[1];
    x *= kMul2;
    x ^= x >> 16;
    return x ^ keys_[2];
  }
  uint32_t decrypt(uint32_t id) const {
    uint32_t x = id ^ keys_[2];
    x ^= x >> 16;
    x *= kInvMul2;
    x ^= keys_[1];
    x ^= (x >> 15) ^ (x >> 30);
    x *= kInvMul1;
    return x ^ keys_[0];
  }

  // A counter to start from, taken from the seed (so IDs differ between runs with other seeds).
  uint32_t first_counter() const { return first_; }

 private:
  static constexpr uint32_t kMul1 = 0x7feb352du, kMul2 = 0x846ca68bu;
  static constexpr uint32_t kInvMul1 = 0x1d69e2a5u, kInvMul2 = 0x43021123u;  // inverses mod 2^32
  static_assert(kMul1 * kInvMul1 == 1u && kMul2 * kInvMul2 == 1u);
  uint32_t keys_[3]{};
  uint32_t first_ = 0;
};

}  // namespace ibcm::engine
