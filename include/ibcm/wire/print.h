/// @file
/// Human and JSON renderings of a MAD, driven by the field tables: every field by its spec name.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "ibcm/api.h"
#include "ibcm/wire/messages.h"

IBCM_API_BEGIN

namespace ibcm::wire {

/// Both name each field by its spec name, header fields first, except that a header field whose
/// name the message has too is "MAD.<name>": SIDR_REP has "MAD.Status" (the MAD's) and "Status"
/// (the SIDR status); ClassPortInfo "MAD.BaseVersion" and "MAD.ClassVersion". No name repeats.

/// "REQ BaseVersion=1 ... LocalCommID=123 ServiceID=0x... ..." on one line; all-zero byte fields
/// are left out.
std::string to_text(const Mad& mad);

/// {"message":"REQ","BaseVersion":1,...,"LocalCommID":..,...}: numbers as integers, GIDs as
/// IPv6 text, byte fields as lowercase hex strings. No surrounding newline.
std::string to_json(const Mad& mad);

/// Bytes as lowercase hex, two digits each, as every output form shows a byte field.
std::string bytes_to_hex(std::span<const uint8_t> bytes);
/// The GID as IPv6 text (RFC 5952, IPv4-mapped shown as \::ffff:a.b.c.d).
std::string gid_to_string(const Gid& gid);
/// JSON string literal with escaping.
std::string json_quote(std::string_view s);
/// A value as `key=value` text shows it: as it is, or as a JSON string literal when it is empty or
/// holds a space, '=', '"' or a control character, so that every line splits back into its pairs.
std::string text_value(std::string_view s);
/// An identifier (comm ID, CA GUID, service ID, SIDR request ID) as every output form names it:
/// lowercase hex, zero-padded to its width: id_to_string(0x1234, 32) is "0x00001234".
std::string id_to_string(uint64_t id, unsigned bits);

}  // namespace ibcm::wire

IBCM_API_END
