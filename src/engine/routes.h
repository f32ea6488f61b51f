// How each CM message finds the connection it is about: one row per message, naming its state-table
// column, how its connection is looked up, what it gets when it names none, and which of its fields
// are the keys. The receive path (receive.cpp) reads the keys with this table after decoding, and
// the batch path reads the same keys with it to prefetch the lookups before decoding, so "which
// field names the connection" is written here once.
#pragma once

#include <cstdint>
#include <iterator>
#include <string_view>

#include "engine/state_table.h"
#include "ibcm/wire/schema.h"
#include "wire/bits.h"

namespace ibcm::engine {

enum class Lookup : uint8_t {
  None,           // not about a connection (SIDR has tables of its own; ClassPortInfo)
  PeerCommId,     // by the sender's (comm ID, CA GUID): the REQ we already hold (a duplicate)
  OurCommId,      // by its RemoteCommID, which is our comm ID
  BothCommIds,    // OurCommId, and its LocalCommID must be the peer's we know
  OurCommIdOrCa,  // OurCommId; with RemoteCommID 0 and reason 4, by the sender's comm ID and the
                  // CA GUID in its ARI (a REJ 4 for a REQ the peer never answered)
};

// What a message that names no connection gets.
enum class IfNone : uint8_t {
  Drop,        // counted (Drop::UnknownConnection) and logged
  NewRequest,  // a new REQ: validated, and a connection made or REJ sent (establishment.cpp)
  AnswerDrep,  // DREP, so a peer that still holds the connection ends it at once (teardown.cpp)
};

struct Route {
  wire::AttrId attr;
  Input input;  // its column in kTable; kCount: not a connection's message
  Lookup lookup;
  IfNone if_none;
  // Its key fields by their names in its schema ("": the message has none). Those of the sender
  // (comm ID, CA GUID, QPN) must repeat what the connection knows of its peer.
  std::string_view our_id;     // our comm ID
  std::string_view peer_id;    // the sender's comm ID
  std::string_view peer_guid;  // the sender's CA GUID
  std::string_view peer_qpn;   // the sender's QPN: the key of the stale-connection check
};

// clang-format off
inline constexpr Route kRoutes[] = {
  // message              input        lookup                 if none             our comm ID     sender's: comm ID  CA GUID        QPN
  {wire::AttrId::Req,     Input::Req,  Lookup::PeerCommId,    IfNone::NewRequest, "",             "LocalCommID",    "LocalCAGUID", "LocalQPN"},
  {wire::AttrId::Mra,     Input::Mra,  Lookup::OurCommId,     IfNone::Drop,       "RemoteCommID", "LocalCommID",    "",            ""},
  {wire::AttrId::Rej,     Input::Rej,  Lookup::OurCommIdOrCa, IfNone::Drop,       "RemoteCommID", "LocalCommID",    "",            ""},
  {wire::AttrId::Rep,     Input::Rep,  Lookup::OurCommId,     IfNone::Drop,       "RemoteCommID", "LocalCommID",    "LocalCAGUID", "LocalQPN"},
  {wire::AttrId::Rtu,     Input::Rtu,  Lookup::OurCommId,     IfNone::Drop,       "RemoteCommID", "LocalCommID",    "",            ""},
  {wire::AttrId::Dreq,    Input::Dreq, Lookup::BothCommIds,   IfNone::AnswerDrep, "RemoteCommID", "LocalCommID",    "",            ""},
  {wire::AttrId::Drep,    Input::Drep, Lookup::OurCommId,     IfNone::Drop,       "RemoteCommID", "LocalCommID",    "",            ""},
  {wire::AttrId::Lap,     Input::Lap,  Lookup::OurCommId,     IfNone::Drop,       "RemoteCommID", "LocalCommID",    "",            ""},
  {wire::AttrId::Apr,     Input::Apr,  Lookup::OurCommId,     IfNone::Drop,       "RemoteCommID", "LocalCommID",    "",            ""},
  {wire::AttrId::SidrReq, Input::kCount, Lookup::None,        IfNone::Drop,       "",             "",               "",            ""},
  {wire::AttrId::SidrRep, Input::kCount, Lookup::None,        IfNone::Drop,       "",             "",               "",            ""},
  {wire::AttrId::ClassPortInfo, Input::kCount, Lookup::None,  IfNone::Drop,       "",             "",               "",            ""},
};
// clang-format on

// Message M's row (a compile error if it has none).
template <class M>
constexpr const Route& route_of() {
  for (const Route& r : kRoutes)
    if (r.attr == wire::Schema<M>::attr) return r;
  throw "a message without a route";  // not a constant expression: a compile error
}

static_assert(std::size(kRoutes) == std::variant_size_v<wire::Message>,
              "every message the codec knows has a route");

// A message's keys, as its route names them (0 for those it does not carry).
struct Keys {
  uint32_t our_id = 0;
  uint32_t peer_id = 0;
  uint64_t peer_guid = 0;
  uint32_t peer_qpn = 0;
};

namespace detail {
// Field `name` of M read straight from a MAD's bytes (0 when name is empty): the field's place is
// a constant, so this is one load and a shift.
template <class M, const std::string_view& kName>
uint64_t peek(const uint8_t* mad) {
  if constexpr (kName.empty()) {
    return 0;
  } else {
    // By index and value: a pointer into the table is not a constant under ASan.
    constexpr size_t i = wire::field_index<M>(kName);
    static_assert(i < wire::Schema<M>::fields.size(), "a route names a field its message lacks");
    constexpr wire::Field<M> f = wire::Schema<M>::fields[i];
    static_assert(f.is_number(), "a route's key is a number field");
    return wire::bits::get_fixed<f.byte, f.bit, f.width, wire::Schema<M>::region>(
        mad + wire::kMadHeaderSize);
  }
}
template <class M>
struct RouteNames {
  static constexpr std::string_view our_id = route_of<M>().our_id;
  static constexpr std::string_view peer_id = route_of<M>().peer_id;
  static constexpr std::string_view peer_guid = route_of<M>().peer_guid;
  static constexpr std::string_view peer_qpn = route_of<M>().peer_qpn;
};
}  // namespace detail

// The keys of message M in a whole MAD's bytes (its length and class already checked).
template <class M>
Keys keys_of(const uint8_t* mad) {
  using N = detail::RouteNames<M>;
  return Keys{static_cast<uint32_t>(detail::peek<M, N::our_id>(mad)),
              static_cast<uint32_t>(detail::peek<M, N::peer_id>(mad)),
              detail::peek<M, N::peer_guid>(mad),
              static_cast<uint32_t>(detail::peek<M, N::peer_qpn>(mad))};
}

// Calls f.template operator()<M>() for the message type M whose attribute is `attr`; false when the
// codec knows no such attribute.
template <class F, size_t I = 0>
bool with_message_type(uint16_t attr, F&& f) {
  if constexpr (I < std::variant_size_v<wire::Message>) {
    using M = std::variant_alternative_t<I, wire::Message>;
    if (attr == static_cast<uint16_t>(wire::Schema<M>::attr)) {
      f.template operator()<M>();
      return true;
    }
    return with_message_type<F, I + 1>(attr, std::forward<F>(f));
  } else {
    return false;
  }
}

}  // namespace ibcm::engine
