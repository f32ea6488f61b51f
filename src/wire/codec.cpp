#include <algorithm>
#include <cstring>
#include <type_traits>
#include <utility>

#include "bits.h"
#include "ibcm/wire/mad.h"
#include "ibcm/wire/schema.h"

namespace ibcm::wire {
namespace {

// The field tables are constexpr, so each field is coded with its byte, bit and width as
// constants and its accessor inlined: one unrolled sequence of word loads and stores per message
// type (bits::get_fixed / put_fixed).
template <class M, size_t I>
inline void encode_field(const M& m, uint8_t* region) {
  constexpr Field<M> f = Schema<M>::fields[I];
  if constexpr (f.is_number()) {
    bits::put_fixed<f.byte, f.bit, f.width, Schema<M>::region>(region, f.get(m));
  } else {
    std::memcpy(region + f.byte, f.bytes(m).data(), f.width / 8);
  }
}

template <class M, size_t I>
inline void decode_field(const uint8_t* region, M& m) {
  constexpr Field<M> f = Schema<M>::fields[I];
  if constexpr (f.is_number()) {
    f.set(m, bits::get_fixed<f.byte, f.bit, f.width, Schema<M>::region>(region));
  } else {
    std::memcpy(f.mutable_bytes(m).data(), region + f.byte, f.width / 8);
  }
}

template <class M, size_t... I>
void encode_fields(const M& m, uint8_t* region, std::index_sequence<I...>) {
  (encode_field<M, I>(m, region), ...);
}
template <class M>
void encode_fields(const M& m, uint8_t* region) {
  encode_fields(m, region, std::make_index_sequence<Schema<M>::fields.size()>());
}

template <class M, size_t... I>
void decode_fields(const uint8_t* region, M& m, std::index_sequence<I...>) {
  (decode_field<M, I>(region, m), ...);
}
template <class M>
void decode_fields(const uint8_t* region, M& m) {
  decode_fields(region, m, std::make_index_sequence<Schema<M>::fields.size()>());
}

template <size_t I = 0>
bool decode_body(uint16_t attr_id, const uint8_t* data, Message& out) {
  if constexpr (I < std::variant_size_v<Message>) {
    using M = std::variant_alternative_t<I, Message>;
    if (attr_id == static_cast<uint16_t>(Schema<M>::attr)) {
      // Every member is a schema field and every field is written, so a message of the same
      // type (a batch of REQs, then of RTUs) is decoded over in place, without clearing it first.
      if (M* same = std::get_if<M>(&out))
        decode_fields(data, *same);
      else
        decode_fields(data, out.emplace<M>());
      return true;
    }
    return decode_body<I + 1>(attr_id, data, out);
  } else {
    return false;
  }
}

constexpr bool method_ok(uint16_t attr_id, uint8_t method) {
  if (attr_id == static_cast<uint16_t>(AttrId::ClassPortInfo))
    return method == static_cast<uint8_t>(Method::Get) ||
           method == static_cast<uint8_t>(Method::Set) ||
           method == static_cast<uint8_t>(Method::GetResp);
  return method == static_cast<uint8_t>(Method::Send);
}

// The method of the MADs make_mad and encode_send build: Send for the CM messages. ClassPortInfo
// is never sent with Send (method_ok refuses it); the MAD that carries one unasked is a request,
// a Get. The engine's answer, a GetResp, is built from the request's header instead.
template <class M>
constexpr uint8_t default_method() {
  return static_cast<uint8_t>(std::is_same_v<M, ClassPortInfo> ? Method::Get : Method::Send);
}
static_assert(method_ok(static_cast<uint16_t>(AttrId::ClassPortInfo),
                        default_method<ClassPortInfo>()) &&
              method_ok(static_cast<uint16_t>(AttrId::Req), default_method<Req>()));

}  // namespace

std::string_view to_string(DecodeError e) {
  switch (e) {
    case DecodeError::ShortBuffer:
      return "short buffer";
    case DecodeError::LongBuffer:
      return "long buffer";
    case DecodeError::BaseVersion:
      return "bad base version";
    case DecodeError::MgmtClass:
      return "not the CM class";
    case DecodeError::ClassVersion:
      return "bad class version";
    case DecodeError::Method:
      return "bad method";
    case DecodeError::UnknownAttribute:
      return "unknown attribute";
    case DecodeError::LengthField:
      return "length field out of range";
  }
  return "?";
}

void encode(const Mad& mad, std::span<uint8_t, kMadSize> out) {
  std::memset(out.data(), 0, out.size());
  MadHeader h = mad.header;
  h.attribute_id = static_cast<uint16_t>(attr_of(mad.message));
  encode_fields(h, out.data());
  std::visit([&](const auto& m) { encode_fields(m, out.data() + kMadHeaderSize); }, mad.message);
}

MadBytes encode(const Mad& mad) {
  MadBytes out;
  encode(mad, out);
  return out;
}

bool decode_header(std::span<const uint8_t> in, MadHeader& out) {
  if (in.size() < kMadHeaderSize) return false;
  decode_fields(in.data(), out);
  return true;
}

std::optional<DecodeFailure> decode_into(std::span<const uint8_t> in, Mad& out) {
  MadHeader& h = out.header;
  h = MadHeader{};
  if (in.size() < kMadSize) {
    decode_header(in, h);
    return DecodeFailure{DecodeError::ShortBuffer, h};
  }
  decode_header(in, h);
  if (in.size() > kMadSize) return DecodeFailure{DecodeError::LongBuffer, h};
  auto fail = [&](DecodeError e) { return DecodeFailure{e, h}; };
  if (h.base_version != kBaseVersion) return fail(DecodeError::BaseVersion);
  if (h.mgmt_class != kCmClass) return fail(DecodeError::MgmtClass);
  if (h.class_version != kCmClassVersion) return fail(DecodeError::ClassVersion);
  if (!decode_body(h.attribute_id, in.data() + kMadHeaderSize, out.message))
    return fail(DecodeError::UnknownAttribute);
  if (!method_ok(h.attribute_id, h.method)) return fail(DecodeError::Method);
  if (!lengths_in_range(out.message)) return fail(DecodeError::LengthField);
  return std::nullopt;
}

Expected<Mad, DecodeFailure> decode(std::span<const uint8_t> in) {
  Mad mad{MadHeader{}, Rtu{}};
  if (auto failure = decode_into(in, mad)) return Unexpected{*failure};
  return mad;
}

template <class M>
void encode_send(const M& m, uint64_t tid, std::span<uint8_t, kMadSize> out) {
  std::memset(out.data(), 0, out.size());
  MadHeader h;
  h.method = default_method<M>();
  h.transaction_id = tid;
  h.attribute_id = static_cast<uint16_t>(Schema<M>::attr);
  encode_fields(h, out.data());
  encode_fields(m, out.data() + kMadHeaderSize);
}

#define IBCM_ENCODE_SEND(M) \
  template void encode_send<M>(const M&, uint64_t, std::span<uint8_t, kMadSize>);
IBCM_ENCODE_SEND(Req)
IBCM_ENCODE_SEND(Mra)
IBCM_ENCODE_SEND(Rej)
IBCM_ENCODE_SEND(Rep)
IBCM_ENCODE_SEND(Rtu)
IBCM_ENCODE_SEND(Dreq)
IBCM_ENCODE_SEND(Drep)
IBCM_ENCODE_SEND(SidrReq)
IBCM_ENCODE_SEND(SidrRep)
IBCM_ENCODE_SEND(Lap)
IBCM_ENCODE_SEND(Apr)
IBCM_ENCODE_SEND(ClassPortInfo)
#undef IBCM_ENCODE_SEND
static_assert(std::variant_size_v<Message> == 12, "instantiate encode_send for every message");

AttrId attr_of(const Message& m) {
  return std::visit([](const auto& x) { return Schema<std::decay_t<decltype(x)>>::attr; }, m);
}

std::string_view name_of(const Message& m) {
  return std::visit([](const auto& x) { return Schema<std::decay_t<decltype(x)>>::name; }, m);
}

namespace {
template <size_t I = 0>
std::string_view attr_name_impl(uint16_t id) {
  if constexpr (I < std::variant_size_v<Message>) {
    using M = std::variant_alternative_t<I, Message>;
    if (id == static_cast<uint16_t>(Schema<M>::attr)) return Schema<M>::name;
    return attr_name_impl<I + 1>(id);
  } else {
    return "";
  }
}
}  // namespace

std::string_view attr_name(uint16_t attr_id) {
  return attr_name_impl(attr_id);
}

Mad make_mad(Message m, uint64_t tid) {
  Mad mad;
  mad.header.method =
      std::visit([](const auto& x) { return default_method<std::decay_t<decltype(x)>>(); }, m);
  mad.header.transaction_id = tid;
  mad.header.attribute_id = static_cast<uint16_t>(attr_of(m));
  mad.message = std::move(m);
  return mad;
}

}  // namespace ibcm::wire
