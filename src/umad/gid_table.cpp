#include "ibcm/umad/gid_table.h"

#include <arpa/inet.h>

#include <algorithm>

#include "umad/sysfs_file.h"

namespace ibcm::umad {

namespace fs = std::filesystem;

namespace {
GidType parse_type(const std::optional<std::string>& text) {
  if (!text) return GidType::Unknown;
  if (*text == "RoCE v2") return GidType::RoceV2;
  if (*text == "IB/RoCE v1") return GidType::IbRoceV1;
  return GidType::Unknown;
}
}  // namespace

std::vector<GidEntry> read_gid_table(const std::string& sysfs_root, const std::string& device,
                                     uint8_t port) {
  fs::path dir = fs::path(sysfs_root) / device / "ports" / std::to_string(port);
  std::vector<GidEntry> table;
  for (const std::string& name : list_dir(dir / "gids")) {
    auto index = parse_index(name);
    if (!index || *index > 0xFFFF) continue;
    auto text = read_sysfs_line(dir / "gids" / name);
    auto gid = text ? parse_gid(*text) : std::nullopt;
    if (!gid || *gid == wire::Gid{}) continue;  // an unused entry
    GidEntry e;
    e.index = static_cast<uint16_t>(*index);
    e.gid = *gid;
    e.type = parse_type(read_sysfs_line(dir / "gid_attrs" / "types" / name));
    e.ndev = read_sysfs_line(dir / "gid_attrs" / "ndevs" / name).value_or("");
    table.push_back(std::move(e));
  }
  std::sort(table.begin(), table.end(),
            [](const GidEntry& a, const GidEntry& b) { return a.index < b.index; });
  return table;
}

std::optional<GidEntry> find_roce_v2_gid(const std::vector<GidEntry>& table, const IpEndpoint& ip) {
  wire::Gid want = gid_of(ip);  // IPv4-mapped for IPv4, as RoCEv2 GIDs are
  for (const GidEntry& e : table)
    if (e.type == GidType::RoceV2 && e.gid == want) return e;
  return std::nullopt;
}

std::string format_gid(const wire::Gid& gid) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, gid.data(), buf, sizeof buf);
  return buf;
}

std::optional<wire::Gid> parse_gid(const std::string& text) {
  wire::Gid g{};
  if (inet_pton(AF_INET6, text.c_str(), g.data()) != 1) return std::nullopt;
  return g;
}

std::string_view to_string(GidType t) {
  switch (t) {
    case GidType::IbRoceV1:
      return "IB/RoCE v1";
    case GidType::RoceV2:
      return "RoCE v2";
    case GidType::Unknown:
      break;
  }
  return "unknown type";
}

std::string describe(const std::vector<GidEntry>& table) {
  if (table.empty()) return "none";
  std::string out;
  for (const GidEntry& e : table) {
    if (!out.empty()) out += ", ";
    out += std::to_string(e.index) + " " + format_gid(e.gid) + " " + std::string(to_string(e.type));
    if (!e.ndev.empty()) out += " " + e.ndev;
  }
  return out;
}

}  // namespace ibcm::umad
