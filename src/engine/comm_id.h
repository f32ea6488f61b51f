// Local communication IDs are unique while in use and hard to guess: a keyed 32-bit permutation
// (a small Feistel network, keys from the injected seed) of a counter. Distinct counters give
// distinct IDs, knowing earlier IDs does not reveal the next without the keys, and the inverse
// gives back the counter, which is where the ID's record is found (local_ids.h).
#pragma once

#include <array>
#include <cstdint>

namespace ibcm::engine {

class CommIdCipher {
 public:
  explicit CommIdCipher(uint64_t seed);
  uint32_t encrypt(uint32_t counter) const;
  uint32_t decrypt(uint32_t id) const;
  // A counter to start from, taken from the seed (so IDs differ between runs with other seeds).
  uint32_t first_counter() const { return first_; }

 private:
  std::array<uint32_t, 4> keys_{};
  uint32_t first_ = 0;
};

// splitmix64: a fast, well-mixed generator for injected randomness (TIDs, keys).
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace ibcm::engine
