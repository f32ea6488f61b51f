// Encode and decode through a field table (wire/field.h) at run time, one field after another:
// the SA's tables are short and its MADs rare, so the CM codec's compile-time unrolling is not
// needed here. Numbers go through the same bit helpers as the CM codec.
#pragma once

#include <cstring>

#include "ibcm/wire/field.h"
#include "wire/bits.h"

namespace ibcm::sa {

template <class M, class Table>
void encode_table(const Table& fields, const M& m, uint8_t* region) {
  for (const wire::Field<M>& f : fields) {
    if (f.is_number())
      wire::bits::put(region, f.byte, f.bit, f.width, f.get(m));
    else
      std::memcpy(region + f.byte, f.bytes(m).data(), f.width / 8);
  }
}

template <class M, class Table>
void decode_table(const Table& fields, const uint8_t* region, M& m) {
  for (const wire::Field<M>& f : fields) {
    if (f.is_number())
      f.set(m, wire::bits::get(region, f.byte, f.bit, f.width));
    else
      std::memcpy(f.mutable_bytes(m).data(), region + f.byte, f.width / 8);
  }
}

}  // namespace ibcm::sa
