// Human and JSON renderings of a MAD, driven by the field tables: every field by its spec name.
#pragma once

#include <string>
#include <string_view>

#include "ibcm/wire/messages.h"

namespace ibcm::wire {

// "REQ LocalCommID=0x... ServiceID=0x... ..." on one line (header fields prefixed by nothing).
std::string to_text(const Mad& mad);

// {"message":"REQ","TransactionID":..,"LocalCommID":..,...}: numbers as integers, GIDs as
// IPv6 text, byte fields as lowercase hex strings. No surrounding newline.
std::string to_json(const Mad& mad);

// The GID as IPv6 text (RFC 5952, IPv4-mapped shown as ::ffff:a.b.c.d).
std::string gid_to_string(const Gid& gid);
// JSON string literal with escaping.
std::string json_quote(std::string_view s);

}  // namespace ibcm::wire
