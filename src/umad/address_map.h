// ib_mad_addr <-> ibcm::Address, both ways, for RoCE and InfiniBand link layers.
#pragma once

#include "ibcm/engine/types.h"
#include "ibcm/umad/umad_port.h"
#include "ibcm/umad/umad_transport.h"

namespace ibcm::umad {

// Hop limit of a GRH we build for a peer that has not sent us one (as Linux's CM sends).
inline constexpr uint8_t kDefaultHopLimit = 64;

// The engine's Address of a MAD's source: the GID from the GRH (zero without one), the LID on
// InfiniBand (0xFFFF on RoCE, where there are none), the QPN, and the P_Key its P_Key index names
// (0xFFFF when the index is outside the table).
Address address_from(const MadAddress& from, const LocalPort& port);
// How a MAD came, for answering the same way.
PeerPath path_from(const MadAddress& from, const Address& peer);
// The ib_mad_addr to send to `to` with: the way its last MAD came if `path` (may be null), else
// the defaults. RoCE: GRH always, LID 0. InfiniBand: DLID, GRH only when the peer's MAD had one
// or its GID is in another subnet.
MadAddress address_to(const Address& to, const PeerPath* path, const LocalPort& port);

// The GID ibcm names an InfiniBand peer by when it has only its LID (a MAD without GRH from a port
// we have not addressed): our subnet prefix and the LID as interface ID, fe80::LID by default.
// The engine tells peers apart by GID, so each LID needs one that stays the same.
wire::Gid placeholder_gid(const wire::Gid& ours, uint16_t lid);

// The slot of a peer in the transport's table (kPeerPathSlots).
size_t peer_slot(const wire::Gid& gid, uint16_t lid);
// The index of `pkey` in the table: an exact match, else one with the same partition number.
std::optional<uint16_t> pkey_index_of(const std::vector<uint16_t>& pkeys, uint16_t pkey);
// The P_Key at `index` in the table; 0xFFFF (the default partition) outside it.
uint16_t pkey_at(const std::vector<uint16_t>& pkeys, uint16_t index);

}  // namespace ibcm::umad
