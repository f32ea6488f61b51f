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

// Big-endian words of N = 1, 2, 4 or 8 bytes at p, any alignment: one load or store (and a byte
// swap on little-endian hosts) where the loops above take one per byte.
template <uint32_t N>
using Word = std::conditional_t<
    N == 1, uint8_t,
    std::conditional_t<N == 2, uint16_t, std::conditional_t<N == 4, uint32_t, uint64_t>>>;

// w in big-endian byte order, or back (the swap is its own inverse).
template <uint32_t N>
inline Word<N> swap_to_big(Word<N> w) {
  static_assert(sizeof(Word<N>) == N);
  if constexpr (N == 1 || std::endian::native == std::endian::big)
    return w;
  else if constexpr (N == 2)
    return __builtin_bswap16(w);
  else if constexpr (N == 4)
    return __builtin_bswap32(w);
  else
    return __builtin_bswap64(w);
}
template <uint32_t N>
inline uint64_t load_be(const uint8_t* p) {
  Word<N> w;
  std::memcpy(&w, p, N);
  return swap_to_big<N>(w);
}
template <uint32_t N>
inline void store_be(uint8_t* p, uint64_t v) {
  const Word<N> w = swap_to_big<N>(static_cast<Word<N>>(v));
  std::memcpy(p, &w, N);
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
  return static_cast<uint16_t>(load_be<2>(p));
}
inline uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(load_be<4>(p));
}
inline void put_be16(uint8_t* p, uint16_t v) {
  store_be<2>(p, v);
}
inline void put_be32(uint8_t* p, uint32_t v) {
  store_be<4>(p, v);
}

}  // namespace ibcm::wire::bits
