#include "engine/comm_id.h"

namespace ibcm::engine {

CommIdGenerator::CommIdGenerator(uint64_t seed) {
  uint64_t s = seed ^ 0x636f6d6d2d696473ull;  // domain-separate from other uses of the seed
  for (auto& k : keys_) k = static_cast<uint32_t>(splitmix64(s));
  counter_ = static_cast<uint32_t>(splitmix64(s));
  next_ = permute(counter_);
}

uint32_t CommIdGenerator::permute(uint32_t x) const {
  uint16_t l = static_cast<uint16_t>(x >> 16), r = static_cast<uint16_t>(x);
  for (uint32_t k : keys_) {
    uint32_t f = (uint32_t{r} * 0x9e3779b1u) ^ k;
    f ^= f >> 15;
    f *= 0x85ebca6bu;
    f ^= f >> 13;
    uint16_t nl = r;
    r = static_cast<uint16_t>(l ^ static_cast<uint16_t>(f));
    l = nl;
  }
  return uint32_t{l} << 16 | r;
}

}  // namespace ibcm::engine
