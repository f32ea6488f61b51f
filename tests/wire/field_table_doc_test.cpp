// docs/wire.md shows each message's field table as the codec has it (Schema<M>::fields in
// schema.h), with the reserved bits between the fields, rendered here and compared with the page
// (doc_region.h), so that the page cannot drift from the code. IBCM_UPDATE_DOCS=1 writes the
// rendering into the page instead (then commit it).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "doc_region.h"
#include "ibcm/wire/schema.h"

namespace {

using namespace ibcm;
using namespace ibcm::wire;

// What a row's kind column says: how the codec reads the field, and for a length field what it
// counts.
template <class M>
std::string kind_of(const Field<M>& f) {
  std::string k;
  switch (f.kind) {
    case FieldKind::Uint:
      k = "number";
      break;
    case FieldKind::Id:
      k = "ID (hex)";
      break;
    case FieldKind::Gid:
      k = "GID";
      break;
    case FieldKind::Bytes:
      k = "bytes (" + std::to_string(f.width / 8) + ")";
      break;
  }
  for (const LengthOf& l : length_fields<M>())
    if (l.count == f.name) k += ": bytes used of " + std::string(l.bytes);
  return k;
}

void row(std::ostream& o, std::string_view name, uint32_t first_bit, uint32_t width,
         const std::string& kind) {
  o << "| " << name << " | " << first_bit / 8 << " | " << first_bit % 8 << " | " << width << " | "
    << kind << " |\n";
}

// One message's table: a row per field in wire order, and a row for each run of reserved bits.
template <class M>
void render_table(std::ostream& o) {
  using S = Schema<M>;
  o << "### " << S::name;
  if constexpr (requires { S::attr; }) {
    char id[8];
    std::snprintf(id, sizeof id, "0x%04x", static_cast<unsigned>(S::attr));
    o << " (AttributeID " << id << ")";
  }
  o << "\n\n| field | byte | bit | bits | kind |\n|---|---|---|---|---|\n";
  std::vector<const Field<M>*> fields;
  for (const Field<M>& f : S::fields) fields.push_back(&f);
  std::sort(fields.begin(), fields.end(),
            [](const auto* x, const auto* y) { return x->first_bit() < y->first_bit(); });
  uint32_t at = 0;
  for (const Field<M>* f : fields) {
    if (f->first_bit() > at) row(o, "*reserved*", at, f->first_bit() - at, "");
    row(o, f->name, f->first_bit(), f->width, kind_of(*f));
    at = f->end_bit();
  }
  if (at < S::region * 8) row(o, "*reserved*", at, S::region * 8 - at, "");
  o << "\n";
}

std::string render() {
  std::ostringstream o;
  o << "Byte offsets count from the start of the CM data (byte 24 of the MAD), the header's from\n"
       "the start of the MAD. Bits are numbered as IBTA numbers them: bit 0 is the most\n"
       "significant bit of the byte. Widths are in bits. What no field covers is reserved.\n\n";
  render_table<MadHeader>(o);
  [&]<class... M>(std::variant<M...>*) {
    (render_table<M>(o), ...);
  }(static_cast<Message*>(nullptr));
  return o.str();
}

TEST(FieldTableDoc, TheWirePageShowsTheTablesAsTheCodecHasThem) {
  test::check_doc_region({"wire.md", "field tables", "include/ibcm/wire/schema.h",
                          "tests/wire/field_table_doc_test.cpp"},
                         render());
}

}  // namespace
