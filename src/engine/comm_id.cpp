#include "engine/comm_id.h"

namespace ibcm::engine {

namespace {

uint16_t round_function(uint16_t half, uint32_t key) {
  uint32_t f = (uint32_t{half} * 0x9e3779b1u) ^ key;
  f ^= f >> 15;
  f *= 0x85ebca6bu;
  f ^= f >> 13;
  return static_cast<uint16_t>(f);
}

}  // namespace

CommIdCipher::CommIdCipher(uint64_t seed) {
  uint64_t s = seed ^ 0x636f6d6d2d696473ull;  // domain-separate from other uses of the seed
  for (auto& k : keys_) k = static_cast<uint32_t>(splitmix64(s));
  first_ = static_cast<uint32_t>(splitmix64(s));
}

uint32_t CommIdCipher::encrypt(uint32_t x) const {
  uint16_t l = static_cast<uint16_t>(x >> 16), r = static_cast<uint16_t>(x);
  for (uint32_t k : keys_) {
    uint16_t nl = r;
    r = static_cast<uint16_t>(l ^ round_function(r, k));
    l = nl;
  }
  return uint32_t{l} << 16 | r;
}

uint32_t CommIdCipher::decrypt(uint32_t id) const {
  uint16_t l = static_cast<uint16_t>(id >> 16), r = static_cast<uint16_t>(id);
  for (auto k = keys_.rbegin(); k != keys_.rend(); ++k) {
    uint16_t pr = l;
    l = static_cast<uint16_t>(r ^ round_function(l, *k));
    r = pr;
  }
  return uint32_t{l} << 16 | r;
}

}  // namespace ibcm::engine
