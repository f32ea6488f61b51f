/// @file
/// What a simulated run leaves behind: every MAD copy with its fate, every consumer event and
/// every scripted fabric change, in one journal order; rendered as a ladder diagram or a pcap.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/engine/events.h"
#include "ibcm/engine/types.h"
#include "ibcm/sim/link.h"
#include "ibcm/wire/mad.h"

IBCM_API_BEGIN

namespace ibcm::sim {

enum class Fate : uint8_t {
  InFlight,     ///< not arrived yet
  Delivered,    ///< handed to the destination's Cm
  Lost,         ///< random link loss
  Dropped,      ///< a FaultRule dropped it
  Partitioned,  ///< source and destination were cut off from each other (at send or arrival)
  NodeDown,     ///< the destination was down at arrival, or crashed while the MAD was in flight
  Unroutable,   ///< the destination GID names no node; never put on the wire
};
std::string_view to_string(Fate f);

/// One copy of a MAD on the wire. A MAD the link duplicated has two records; the second has
/// `duplicate` set.
struct MadRecord {
  uint64_t seq = 0;  ///< journal order, shared with EventRecord and Note
  Time sent{0};
  std::optional<Time> arrival;  ///< when it reaches (or would reach) the destination
  NodeId from = kAnyNode;
  NodeId to = kAnyNode;  ///< kAnyNode when unroutable
  Address from_address;
  Address to_address;
  wire::MadBytes bytes{};
  Fate fate = Fate::InFlight;
  bool duplicate = false;
  bool reordered = false;  ///< the link held it back (LinkParams::reorder)
  bool injected = false;   ///< put on the wire by a test (Fabric::inject), not by a Cm
  uint16_t attr() const { return static_cast<uint16_t>(bytes[16] << 8 | bytes[17]); }
  bool operator==(const MadRecord&) const = default;
};

/// An event a node's Cm gave its consumer.
struct EventRecord {
  uint64_t seq = 0;
  Time time{0};
  NodeId node = 0;
  Event event;
};

/// A change the script made to the fabric (crash, reboot, partition, heal), for the ladder.
struct Note {
  uint64_t seq = 0;
  Time time{0};
  NodeId node = kAnyNode;  ///< kAnyNode for fabric-wide changes
  std::string text;
  bool operator==(const Note&) const = default;
};

struct Trace {
  std::vector<std::string> names;  ///< per node: "A", "B", ...
  std::vector<Address> addresses;  ///< per node
  std::vector<MadRecord> mads;     ///< in send order
  std::vector<EventRecord> events;
  std::vector<Note> notes;
};

/// A header naming the nodes, then one line per MAD copy and per event / note, in journal order:
///   "     12.345 ms  A --REQ--------> B  comm=0x1a2b3c4d sid=0x0000000001061234 qpn=0x000100"
///   "     12.350 ms  B  : req_received conn=0x5e6f7a8b"
///   "     12.350 ms  A <--------REP-- B  comm=0x5e6f7a8b/0x1a2b3c4d qpn=0x000100 [DROPPED]"
///   "   4000.000 ms  B  ** crash"
/// The arrow points from sender to receiver, the lower node on the left. A copy that did not
/// arrive is marked with its fate ([LOST], [DROPPED], [PARTITIONED], [NODE DOWN], [UNROUTABLE]);
/// extra copies with [DUP], held-back ones with [REORDERED], a MAD sent again unchanged with
/// (resent). Times are milliseconds with microsecond precision.
std::string ladder(const Trace& t);

/// The key fields of a MAD for the ladder ("comm=0x.../0x... reason=10 StaleConnection", ...).
std::string mad_summary(std::span<const uint8_t> bytes);

/// Writes every copy put on the wire (all but Unroutable) as an Ethernet / IPv4 / UDP 4791 / BTH /
/// DETH / MAD / ICRC frame at its send time. Returns an error message, or empty on success.
std::string write_pcap(const Trace& t, const std::string& path);

}  // namespace ibcm::sim

IBCM_API_END
