/// @file
/// RDMA devices and their ports as sysfs shows them (/sys/class/infiniband/DEV/ports/N/state,
/// link_layer, lid, sm_lid, pkeys/K, and the GID table), read from a root given as a parameter
/// so tests use a tree in a temporary directory. The umad transport learns its port from here,
/// not from umad_get_port: one reader, the same for every layer, and testable without a device.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/umad/gid_table.h"

IBCM_API_BEGIN

namespace ibcm::umad {

enum class LinkLayer : uint8_t { InfiniBand, Ethernet, Unknown };

struct PortInfo {
  std::string device;
  uint8_t port = 0;
  bool active = false;
  std::string state;  ///< as sysfs says it after the number: "ACTIVE", "DOWN", "INIT", ...
  LinkLayer link_layer = LinkLayer::Unknown;
  uint16_t lid = 0;
  uint16_t sm_lid = 0;
  std::vector<uint16_t> pkeys;  ///< by index (pkeys/K)
  std::vector<GidEntry> gids;
};

/// Device names in the root, sorted.
std::vector<std::string> list_devices(const std::string& sysfs_root);
/// Port numbers of a device, ascending (empty when the device does not exist).
std::vector<uint8_t> list_ports(const std::string& sysfs_root, const std::string& device);
/// Everything about one port; nullopt when the port's directory does not exist.
std::optional<PortInfo> read_port_info(const std::string& sysfs_root, const std::string& device,
                                       uint8_t port);
/// The device's node GUID (sysfs node_guid, "5054:00ff:fe12:3456:..."): the CA GUID a CM puts in
/// REQ and REP. nullopt when the device does not exist or the file is not a GUID.
std::optional<uint64_t> read_node_guid(const std::string& sysfs_root, const std::string& device);
std::string_view to_string(LinkLayer l);

}  // namespace ibcm::umad

IBCM_API_END
