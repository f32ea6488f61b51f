// Local communication IDs: unique while in use and hard to guess. A keyed 32-bit permutation
// (a small Feistel network, key from the injected seed) of a counter: distinct counters give
// distinct IDs, so an ID comes back only after 2^32 allocations, and knowing earlier IDs does not
// reveal the next without the key.
#pragma once

#include <array>
#include <cstdint>

namespace ibcm::engine {

class CommIdGenerator {
 public:
  explicit CommIdGenerator(uint64_t seed);
  // The next ID in the sequence (may be 0 or in use: the caller skips those).
  uint32_t next() {
    uint32_t id = next_;
    next_ = permute(++counter_);
    return id;
  }
  // The ID next() returns after `ahead` more calls, without taking any.
  uint32_t peek(uint32_t ahead = 0) const { return ahead == 0 ? next_ : permute(counter_ + ahead); }

 private:
  uint32_t permute(uint32_t x) const;
  std::array<uint32_t, 4> keys_{};
  uint32_t counter_ = 0;
  uint32_t next_ = 0;  // permute(counter_), computed once: peek() and next() both want it
};

// splitmix64: a fast, well-mixed generator for injected randomness (TIDs, keys).
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace ibcm::engine
