// Test helpers driven by the schema tables (include/ibcm/wire/schema.h): which bits of a MAD some
// field covers, a bit reader/writer written independently of src/wire/bits.h, and messages whose
// every field holds a random value of its width. Used by the wire tests and the fuzz targets.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "ibcm/wire/mad.h"
#include "ibcm/wire/schema.h"

namespace ibcm::wire::testkit {

constexpr uint64_t width_mask(uint32_t width) {
  return width >= 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
}

// Bit `bit` of a region, IBTA numbering (bit 0 is the most significant bit of byte 0).
inline bool bit_at(std::span<const uint8_t> region, uint32_t bit) {
  return (region[bit / 8] >> (7 - bit % 8)) & 1;
}
inline void set_bit(std::span<uint8_t> region, uint32_t bit, bool on) {
  const auto m = static_cast<uint8_t>(0x80 >> (bit % 8));
  region[bit / 8] = static_cast<uint8_t>(on ? region[bit / 8] | m : region[bit / 8] & ~m);
}
// A big-endian bit field read / written one bit at a time.
inline uint64_t read_bits(std::span<const uint8_t> region, uint32_t first_bit, uint32_t width) {
  uint64_t v = 0;
  for (uint32_t b = first_bit; b < first_bit + width; ++b) v = v << 1 | bit_at(region, b);
  return v;
}
inline void write_bits(std::span<uint8_t> region, uint32_t first_bit, uint32_t width,
                       uint64_t value) {
  for (uint32_t i = 0; i < width; ++i)
    set_bit(region, first_bit + i, (value >> (width - 1 - i)) & 1);
}

// "" when the bytes are equal, else one line per differing byte: "byte 67: 0xa3, want 0xa1".
inline std::string byte_diff(std::span<const uint8_t> got, std::span<const uint8_t> want) {
  std::string out;
  if (got.size() != want.size())
    out += "size " + std::to_string(got.size()) + ", want " + std::to_string(want.size()) + "\n";
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    if (got[i] == want[i]) continue;
    char line[96];
    if (want.size() == kMadSize && i >= kMadHeaderSize)
      std::snprintf(line, sizeof line, "byte %zu (CM data %zu): 0x%02x, want 0x%02x\n", i,
                    i - kMadHeaderSize, got[i], want[i]);
    else
      std::snprintf(line, sizeof line, "byte %zu: 0x%02x, want 0x%02x\n", i, got[i], want[i]);
    out += line;
  }
  return out;
}

// ORs into `mask`, from byte `base` on, the bits that some field of M covers.
template <class M>
void mark_fields(std::span<uint8_t> mask, size_t base) {
  for (const auto& f : Schema<M>::fields)
    for (uint32_t b = f.first_bit(); b < f.end_bit(); ++b) set_bit(mask.subspan(base), b, true);
}

// The bits of a MAD holding this message that some field covers; all others are reserved.
inline MadBytes field_mask(const Message& m) {
  MadBytes mask{};
  mark_fields<MadHeader>(mask, 0);
  std::visit([&](const auto& x) { mark_fields<std::decay_t<decltype(x)>>(mask, kMadHeaderSize); },
             m);
  return mask;
}

// A message of the variant's alternative `index` (value-initialized).
template <size_t I = 0>
Message message_of_index(size_t index) {
  if constexpr (I + 1 < std::variant_size_v<Message>) {
    if (index != I) return message_of_index<I + 1>(index);
  }
  return std::variant_alternative_t<I, Message>{};
}

// Sets every field of m from `next()` (any callable returning uint64_t): a number field gets a
// value of its width, a byte field one value per byte.
template <class M, class Next>
void fill_fields(M& m, Next&& next) {
  for (const auto& f : Schema<M>::fields) {
    if (f.is_number()) {
      f.set(m, next() & width_mask(f.width));
    } else {
      for (auto& b : f.mutable_bytes(m)) b = static_cast<uint8_t>(next());
    }
  }
}
template <class Next>
void fill_fields(Message& m, Next&& next) {
  std::visit([&](auto& x) { fill_fields(x, next); }, m);
}

using ::ibcm::wire::field_named;

// Brings each length field of m (Schema<M>::lengths) into the range decode() accepts.
template <class M>
void clamp_lengths(M& m) {
  for (const auto& r : kLengthRules<M>) {
    const auto& f = Schema<M>::fields[r.field];
    f.set(m, f.get(m) % (r.max + 1));
  }
}
inline void clamp_lengths(Message& m) {
  std::visit([](auto& x) { clamp_lengths(x); }, m);
}

// A method decode() accepts with this message: Send, or Get / Set / GetResp for ClassPortInfo.
inline uint8_t valid_method(const Message& m, uint64_t choice) {
  if (!std::holds_alternative<ClassPortInfo>(m)) return static_cast<uint8_t>(Method::Send);
  constexpr Method kCpi[] = {Method::Get, Method::Set, Method::GetResp};
  return static_cast<uint8_t>(kCpi[choice % 3]);
}

// A MAD that decode() accepts: every field of the header and message from `next()`, then the
// version, class and method fixed and the length fields brought into range.
template <class Next>
Mad valid_mad(Message m, Next&& next) {
  Mad mad{MadHeader{}, std::move(m)};
  fill_fields(mad.header, next);
  fill_fields(mad.message, next);
  clamp_lengths(mad.message);
  mad.header.base_version = kBaseVersion;
  mad.header.mgmt_class = kCmClass;
  mad.header.class_version = kCmClassVersion;
  mad.header.method = valid_method(mad.message, next());
  mad.header.attribute_id = static_cast<uint16_t>(attr_of(mad.message));
  return mad;
}

}  // namespace ibcm::wire::testkit
