/// @file
/// One descriptor per wire field (name, byte, bit, width), as in the spec's tables. A message's
/// table of descriptors drives encode, decode, printing and the tests; see schema.h.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include "ibcm/api.h"

IBCM_API_BEGIN

namespace ibcm::wire {

enum class FieldKind : uint8_t {
  Uint,  ///< an unsigned number (or coded value) up to 64 bits
  Id,   ///< an unsigned number best shown in hex (comm and request IDs, GUIDs, service IDs, Q_Keys)
  Gid,  ///< 16 bytes, shown as an IPv6 address
  Bytes,  ///< opaque bytes (private data, ARI), shown as hex
};

template <class Msg>
struct Field {
  std::string_view name;  ///< the spec's name, e.g. "PrimaryFlowLabel"
  uint16_t byte;          ///< offset in the region (CM data, or the MAD for the header)
  uint8_t bit;            ///< IBTA numbering: bit 0 is the most significant bit of the byte
  uint16_t width;         ///< in bits
  FieldKind kind;
  uint64_t (*get)(const Msg&) = nullptr;
  void (*set)(Msg&, uint64_t) = nullptr;
  std::span<const uint8_t> (*bytes)(const Msg&) = nullptr;
  std::span<uint8_t> (*mutable_bytes)(Msg&) = nullptr;

  constexpr bool is_number() const { return kind == FieldKind::Uint || kind == FieldKind::Id; }
  constexpr uint32_t first_bit() const { return uint32_t{byte} * 8 + bit; }
  constexpr uint32_t end_bit() const { return first_bit() + width; }
};

/// A table is well formed when every field fits the region, no two fields overlap, numbers fit in
/// 64 bits within at most 8 bytes, and byte fields are whole bytes. Checked at compile time.
template <class Table>
constexpr bool layout_ok(const Table& fields, uint32_t region_bytes) {
  for (size_t i = 0; i < fields.size(); ++i) {
    const auto& f = fields[i];
    if (f.width == 0 || f.end_bit() > region_bytes * 8) return false;
    if (f.is_number()) {
      if (f.width > 64 || (f.bit + f.width + 7) / 8 > 8) return false;
      if (!f.get || !f.set) return false;
    } else {
      if (f.bit != 0 || f.width % 8 != 0 || !f.bytes || !f.mutable_bytes) return false;
    }
    for (size_t j = i + 1; j < fields.size(); ++j) {
      const auto& g = fields[j];
      if (f.first_bit() < g.end_bit() && g.first_bit() < f.end_bit()) return false;
    }
  }
  return true;
}

}  // namespace ibcm::wire

/// Descriptor builders for schema.h: a number field, and a byte-array field whose width is the
/// member's size.
#define IBCM_NUM(M, member, name, byte, bit, width, kind)                                         \
  ::ibcm::wire::Field<M> {                                                                        \
    name, byte, bit, width, ::ibcm::wire::FieldKind::kind,                                        \
        [](const M& m) -> uint64_t { return static_cast<uint64_t>(m.member); },                   \
        [](M& m, uint64_t v) { m.member = static_cast<decltype(m.member)>(v); }, nullptr, nullptr \
  }
#define IBCM_U(M, member, name, byte, bit, width) IBCM_NUM(M, member, name, byte, bit, width, Uint)
#define IBCM_ID(M, member, name, byte, width) IBCM_NUM(M, member, name, byte, 0, width, Id)
#define IBCM_BYTES(M, member, name, byte, kind)                                  \
  ::ibcm::wire::Field<M> {                                                       \
    name, byte, 0, static_cast<uint16_t>(sizeof(std::declval<M&>().member) * 8), \
        ::ibcm::wire::FieldKind::kind, nullptr, nullptr,                         \
        [](const M& m) -> std::span<const uint8_t> { return m.member; },         \
        [](M& m) -> std::span<uint8_t> { return m.member; }                      \
  }

IBCM_API_END
