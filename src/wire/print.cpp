#include "ibcm/wire/print.h"

#include <cstdio>
#include <type_traits>

#include "ibcm/wire/mad.h"
#include "ibcm/wire/schema.h"

namespace ibcm::wire {
namespace {

void append_hex(std::string& out, std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
}

template <class M, class V>
void visit_field(const Field<M>& f, const M& m, std::string_view key, V& visit) {
  if (f.is_number())
    visit(key, f.kind, f.get(m), std::span<const uint8_t>{});
  else
    visit(key, f.kind, uint64_t{0}, f.bytes(m));
}

// Calls visit(key, kind, number, bytes) for each field of the header and then of the message.
// The key is the field's spec name, except that a header field whose name the message also has
// (SIDR_REP's Status; ClassPortInfo's BaseVersion and ClassVersion) is "MAD.<name>": each key
// appears once, and the message's own field keeps the plain name.
template <class V>
void visit_mad(const Mad& mad, V&& visit) {
  std::visit(
      [&](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        std::string key;
        for (const auto& f : Schema<MadHeader>::fields) {
          key.assign(field_named<M>(f.name) ? "MAD." : "").append(f.name);
          visit_field(f, mad.header, key, visit);
        }
        for (const auto& f : Schema<M>::fields) visit_field(f, m, f.name, visit);
      },
      mad.message);
}

}  // namespace

std::string gid_to_string(const Gid& g) {
  bool v4mapped = true;
  for (int i = 0; i < 10; ++i) v4mapped = v4mapped && g[i] == 0;
  v4mapped = v4mapped && g[10] == 0xff && g[11] == 0xff;
  char buf[64];
  if (v4mapped) {
    std::snprintf(buf, sizeof buf, "::ffff:%u.%u.%u.%u", g[12], g[13], g[14], g[15]);
    return buf;
  }
  uint16_t w[8];
  for (int i = 0; i < 8; ++i) w[i] = static_cast<uint16_t>(g[2 * i] << 8 | g[2 * i + 1]);
  // RFC 5952: compress the longest run (>= 2) of zero words, the first if tied.
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (w[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && w[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) best = i, best_len = j - i;
    i = j;
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    std::snprintf(buf, sizeof buf, "%x", w[i]);
    out += buf;
  }
  return out;
}

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string text_value(std::string_view s) {
  bool plain = !s.empty();
  for (char c : s)
    plain = plain && c != ' ' && c != '=' && c != '"' && static_cast<unsigned char>(c) >= 0x20;
  return plain ? std::string(s) : json_quote(s);
}

std::string bytes_to_hex(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  append_hex(out, bytes);
  return out;
}

std::string id_to_string(uint64_t id, unsigned bits) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%0*llx", static_cast<int>((bits + 3) / 4),
                static_cast<unsigned long long>(id));
  return buf;
}

std::string to_text(const Mad& mad) {
  std::string out(name_of(mad.message));
  visit_mad(mad,
            [&](std::string_view name, FieldKind kind, uint64_t v, std::span<const uint8_t> bytes) {
              // Empty private data and reserved-looking header noise are left out of the human
              // form.
              if (kind == FieldKind::Bytes) {
                bool all_zero = true;
                for (auto b : bytes) all_zero = all_zero && b == 0;
                if (all_zero) return;
              }
              out += ' ';
              out += name;
              out += '=';
              char buf[32];
              switch (kind) {
                case FieldKind::Uint:
                  std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
                  out += buf;
                  break;
                case FieldKind::Id:
                  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
                  out += buf;
                  break;
                case FieldKind::Gid: {
                  Gid g{};
                  std::copy(bytes.begin(), bytes.end(), g.begin());
                  out += gid_to_string(g);
                  break;
                }
                case FieldKind::Bytes:
                  append_hex(out, bytes);
                  break;
              }
            });
  return out;
}

std::string to_json(const Mad& mad) {
  std::string out = "{\"message\":";
  out += json_quote(name_of(mad.message));
  visit_mad(mad,
            [&](std::string_view name, FieldKind kind, uint64_t v, std::span<const uint8_t> bytes) {
              out += ',';
              out += json_quote(name);
              out += ':';
              if (kind == FieldKind::Uint || kind == FieldKind::Id) {
                out += std::to_string(v);
              } else if (kind == FieldKind::Gid) {
                Gid g{};
                std::copy(bytes.begin(), bytes.end(), g.begin());
                out += json_quote(gid_to_string(g));
              } else {
                out += '"';
                append_hex(out, bytes);
                out += '"';
              }
            });
  return out + "}";
}

}  // namespace ibcm::wire
