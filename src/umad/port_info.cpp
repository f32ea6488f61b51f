#include "ibcm/umad/port_info.h"

#include <algorithm>
#include <cstdlib>

#include "umad/sysfs_file.h"

namespace ibcm::umad {

namespace fs = std::filesystem;

namespace {
// "0x1a" or "26" (sysfs writes LIDs and P_Keys in hex); nullopt when absent or not a number.
std::optional<uint16_t> read_number(const fs::path& file) {
  auto text = read_sysfs_line(file);
  if (!text || text->empty()) return std::nullopt;
  char* end = nullptr;
  unsigned long v = std::strtoul(text->c_str(), &end, 0);
  if (*end != '\0' || v > 0xFFFF) return std::nullopt;
  return static_cast<uint16_t>(v);
}
LinkLayer parse_link_layer(const std::optional<std::string>& text) {
  if (text == "Ethernet") return LinkLayer::Ethernet;
  if (text == "InfiniBand") return LinkLayer::InfiniBand;
  return LinkLayer::Unknown;
}
}  // namespace

std::vector<std::string> list_devices(const std::string& sysfs_root) {
  return list_dir(sysfs_root);
}

std::vector<uint8_t> list_ports(const std::string& sysfs_root, const std::string& device) {
  std::vector<uint8_t> ports;
  for (const std::string& name : list_dir(fs::path(sysfs_root) / device / "ports"))
    if (auto n = parse_index(name); n && *n > 0 && *n <= 0xFF) ports.push_back(uint8_t(*n));
  std::sort(ports.begin(), ports.end());
  return ports;
}

std::optional<PortInfo> read_port_info(const std::string& sysfs_root, const std::string& device,
                                       uint8_t port) {
  fs::path dir = fs::path(sysfs_root) / device / "ports" / std::to_string(port);
  std::error_code ec;
  if (device.empty() || !fs::is_directory(dir, ec)) return std::nullopt;
  PortInfo p;
  p.device = device;
  p.port = port;
  // "4: ACTIVE": the number is the IBTA PortState, the word its name.
  std::string state = read_sysfs_line(dir / "state").value_or("");
  size_t start = state.find(':');
  start = start == std::string::npos ? 0 : start + 1;
  while (start < state.size() && state[start] == ' ') ++start;
  p.state = state.substr(start);
  p.active = p.state == "ACTIVE";
  p.link_layer = parse_link_layer(read_sysfs_line(dir / "link_layer"));
  p.lid = read_number(dir / "lid").value_or(0);
  p.sm_lid = read_number(dir / "sm_lid").value_or(0);
  std::vector<std::pair<unsigned, uint16_t>> pkeys;
  for (const std::string& name : list_dir(dir / "pkeys"))
    if (auto i = parse_index(name))
      if (auto v = read_number(dir / "pkeys" / name)) pkeys.emplace_back(*i, *v);
  std::sort(pkeys.begin(), pkeys.end());
  for (const auto& [i, v] : pkeys) {
    if (i != p.pkeys.size()) break;  // a gap: the indices after it would be wrong
    p.pkeys.push_back(v);
  }
  p.gids = read_gid_table(sysfs_root, device, port);
  return p;
}

std::optional<uint64_t> read_node_guid(const std::string& sysfs_root, const std::string& device) {
  if (device.empty()) return std::nullopt;
  auto text = read_sysfs_line(fs::path(sysfs_root) / device / "node_guid");
  if (!text) return std::nullopt;
  uint64_t guid = 0;
  int digits = 0;
  for (char c : *text) {
    if (c == ':') continue;
    int v = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (v < 0 || ++digits > 16) return std::nullopt;
    guid = guid << 4 | static_cast<uint64_t>(v);
  }
  if (digits != 16) return std::nullopt;
  return guid;
}

std::string_view to_string(LinkLayer l) {
  switch (l) {
    case LinkLayer::InfiniBand:
      return "InfiniBand";
    case LinkLayer::Ethernet:
      return "Ethernet";
    case LinkLayer::Unknown:
      break;
  }
  return "unknown link layer";
}

}  // namespace ibcm::umad
