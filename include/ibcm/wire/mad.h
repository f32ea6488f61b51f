/// @file
/// Encode and decode whole CM MADs (256 bytes). Never throws; any input is safe to decode.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "ibcm/api.h"
#include "ibcm/result.h"
#include "ibcm/wire/messages.h"

IBCM_API_BEGIN

namespace ibcm::wire {

enum class DecodeError : uint8_t {
  ShortBuffer,       ///< fewer than 256 bytes
  LongBuffer,        ///< more than 256 bytes
  BaseVersion,       ///< BaseVersion != 1
  MgmtClass,         ///< not the CM class (0x07)
  ClassVersion,      ///< ClassVersion != 2
  Method,            ///< a method this attribute is never sent with
  UnknownAttribute,  ///< AttributeID names no CM attribute
  LengthField,       ///< a length field counts more bytes than its field has (Schema<M>::lengths)
};
std::string_view to_string(DecodeError e);

struct DecodeFailure {
  DecodeError error;
  MadHeader header;  ///< as read; meaningful unless error is ShortBuffer or LongBuffer
};

using MadBytes = std::array<uint8_t, kMadSize>;

/// Writes exactly 256 bytes. AttributeID is taken from the message; reserved bits are zero;
/// numbers wider than their field are truncated to the field.
void encode(const Mad& mad, std::span<uint8_t, kMadSize> out);
MadBytes encode(const Mad& mad);

/// Reads the header only (no checks beyond length >= 24).
bool decode_header(std::span<const uint8_t> in, MadHeader& out);

Expected<Mad, DecodeFailure> decode(std::span<const uint8_t> in);
/// The same, into `out` (no copy of the message on the way): nullopt on success, else why (with
/// out.header as read, as DecodeFailure::header).
std::optional<DecodeFailure> decode_into(std::span<const uint8_t> in, Mad& out);

/// The AttributeID and name of a message type / of the message a MAD holds.
AttrId attr_of(const Message& m);
std::string_view name_of(const Message& m);
/// The attribute's name, e.g. "REQ", or "" when the ID names no CM attribute.
std::string_view attr_name(uint16_t attr_id);

/// A convenience: a MAD with this message and TID and a method decode() accepts with it: Send,
/// or Get for ClassPortInfo (a request; an answer needs its method set to GetResp).
Mad make_mad(Message m, uint64_t tid);
/// encode(make_mad(m, tid), out) straight from the message, with no Mad or variant in between
/// (the engine's send path). M is any alternative of Message.
template <class M>
void encode_send(const M& m, uint64_t tid, std::span<uint8_t, kMadSize> out);

}  // namespace ibcm::wire

IBCM_API_END
