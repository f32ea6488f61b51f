/// @file
/// A port's GID table as sysfs shows it (/sys/class/infiniband/DEV/ports/N/gids/K, with
/// gid_attrs/types/K and gid_attrs/ndevs/K), and which entry is the RoCEv2 GID of an IP address.
/// The umad transport, the verbs binding and the CLI all pick GIDs through here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/transport/ip_address.h"
#include "ibcm/wire/types.h"

IBCM_API_BEGIN

namespace ibcm::umad {

/// The sysfs directory that holds one directory per RDMA device.
inline constexpr const char* kSysfsInfiniband = "/sys/class/infiniband";

enum class GidType : uint8_t {
  IbRoceV1,  ///< "IB/RoCE v1": an InfiniBand GID, or RoCE v1 on Ethernet
  RoceV2,    ///< "RoCE v2"
  Unknown,   ///< a type this code does not know (or none given)
};

struct GidEntry {
  uint16_t index = 0;
  wire::Gid gid{};
  GidType type = GidType::Unknown;
  std::string ndev;  ///< the net device the GID belongs to ("" on InfiniBand)
};

/// Every entry that holds a GID (all-zero entries are unused and left out), by index.
std::vector<GidEntry> read_gid_table(const std::string& sysfs_root, const std::string& device,
                                     uint8_t port);

/// The entry of type RoCE v2 whose GID is that of `ip`, if any.
std::optional<GidEntry> find_roce_v2_gid(const std::vector<GidEntry>& table, const IpEndpoint& ip);

/// "fe80::1", "::ffff:198.51.100.2" (inet_ntop's IPv6 text); parse_gid also takes sysfs's
/// "fe80:0000:...:0001" form.
std::string format_gid(const wire::Gid& gid);
std::optional<wire::Gid> parse_gid(const std::string& text);
std::string_view to_string(GidType t);
/// "1 ::ffff:198.51.100.3 RoCE v2 eth0, 0 fe80::... RoCE v2 eth0": for error messages.
std::string describe(const std::vector<GidEntry>& table);

}  // namespace ibcm::umad

IBCM_API_END
