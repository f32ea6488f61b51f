// Big-endian bit fields with IBTA numbering (bit 0 = most significant bit of the byte).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <type_traits>

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

// A big-endian word of N = 1, 2, 4 or 8 bytes at p, any alignment: one load (and a byte swap on
// little-endian hosts) where the loops above take a load and a shift per byte.
template <uint32_t N>
inline uint64_t load_be(const uint8_t* p) {
  if constexpr (N == 1) {
    return *p;
  } else {
    using Word =
        std::conditional_t<N == 2, uint16_t, std::conditional_t<N == 4, uint32_t, uint64_t>>;
    static_assert(sizeof(Word) == N);
    Word w;
    std::memcpy(&w, p, N);
    if constexpr (std::endian::native == std::endian::little) {
      if constexpr (N == 2) w = __builtin_bswap16(w);
      if constexpr (N == 4) w = __builtin_bswap32(w);
      if constexpr (N == 8) w = __builtin_bswap64(w);
    }
    return w;
  }
}
template <uint32_t N>
inline void store_be(uint8_t* p, uint64_t v) {
  if constexpr (N == 1) {
    *p = static_cast<uint8_t>(v);
  } else {
    using Word =
        std::conditional_t<N == 2, uint16_t, std::conditional_t<N == 4, uint32_t, uint64_t>>;
    auto w = static_cast<Word>(v);
    if constexpr (std::endian::native == std::endian::little) {
      if constexpr (N == 2) w = __builtin_bswap16(w);
      if constexpr (N == 4) w = __builtin_bswap32(w);
      if constexpr (N == 8) w = __builtin_bswap64(w);
    }
    std::memcpy(p, &w, N);
  }
}

// get and put for a field whose place is known at compile time (the codec's tables are
// constexpr), in a region of Region bytes: the field is read or written as the one word of 1, 2,
// 4 or 8 bytes that covers it, where that word stays inside the region; else byte by byte.
template <uint32_t Byte, uint32_t Bit, uint32_t Width>
struct FixedField {
  static constexpr uint32_t kBytes = (Bit + Width + 7) / 8;
  static constexpr uint32_t kWord = kBytes <= 1 ? 1 : kBytes <= 2 ? 2 : kBytes <= 4 ? 4 : 8;
  static constexpr uint32_t kShift = kWord * 8 - Bit - Width;
  static constexpr uint64_t kMask = Width == 64 ? ~uint64_t{0} : (uint64_t{1} << Width) - 1;
  static_assert(kBytes <= 8, "a number field lies within 8 bytes");
};

template <uint32_t Byte, uint32_t Bit, uint32_t Width, uint32_t Region>
inline uint64_t get_fixed(const uint8_t* region) {
  using F = FixedField<Byte, Bit, Width>;
  if constexpr (Byte + F::kWord > Region) {
    return get(region, Byte, Bit, Width);
  } else {
    return (load_be<F::kWord>(region + Byte) >> F::kShift) & F::kMask;
  }
}

template <uint32_t Byte, uint32_t Bit, uint32_t Width, uint32_t Region>
inline void put_fixed(uint8_t* region, uint64_t v) {
  using F = FixedField<Byte, Bit, Width>;
  if constexpr (Byte + F::kWord > Region) {
    put(region, Byte, Bit, Width, v);
  } else if constexpr (Bit == 0 && Width == F::kWord * 8) {
    store_be<F::kWord>(region + Byte, v);  // the word is the field: nothing to keep
  } else {
    uint64_t word = load_be<F::kWord>(region + Byte);
    word = (word & ~(F::kMask << F::kShift)) | ((v & F::kMask) << F::kShift);
    store_be<F::kWord>(region + Byte, word);
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
