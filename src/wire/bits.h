// Big-endian bit fields with IBTA numbering (bit 0 = most significant bit of the byte).
#pragma once

#include <cstdint>

namespace ibcm::wire::bits {

// The field must lie within 8 bytes: (bit + width + 7) / 8 <= 8 (checked by layout_ok).
inline uint64_t get(const uint8_t* region, uint32_t byte, uint32_t bit, uint32_t width) {
  const uint32_t nbytes = (bit + width + 7) / 8;
  uint64_t v = 0;
  for (uint32_t i = 0; i < nbytes; ++i) v = (v << 8) | region[byte + i];
  v >>= nbytes * 8 - bit - width;
  return width == 64 ? v : v & ((uint64_t{1} << width) - 1);
}

inline void put(uint8_t* region, uint32_t byte, uint32_t bit, uint32_t width, uint64_t value) {
  const uint32_t nbytes = (bit + width + 7) / 8;
  const uint32_t shift = nbytes * 8 - bit - width;
  const uint64_t mask = (width == 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1);
  uint64_t word = 0;
  for (uint32_t i = 0; i < nbytes; ++i) word = (word << 8) | region[byte + i];
  word = (word & ~(mask << shift)) | ((value & mask) << shift);
  for (uint32_t i = nbytes; i-- > 0;) {
    region[byte + i] = static_cast<uint8_t>(word);
    word >>= 8;
  }
}

inline uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
inline uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
inline void put_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void put_be32(uint8_t* p, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

}  // namespace ibcm::wire::bits
