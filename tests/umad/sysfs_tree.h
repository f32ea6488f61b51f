// A fake /sys/class/infiniband in a temporary directory: devices, ports, GID tables, P_Keys, as
// the kernel lays them out, for the readers and the transport's open().
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace ibcm::umad::test {

class SysfsTree {
 public:
  SysfsTree() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ibcm-sysfs-XXXXXX").string();
    EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  ~SysfsTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  SysfsTree(const SysfsTree&) = delete;
  SysfsTree& operator=(const SysfsTree&) = delete;

  const std::string& root() const { return root_; }

  // A port with its state ("4: ACTIVE", "1: DOWN"), link layer, LID and one P_Key (0xffff).
  void add_port(const std::string& dev, int port, const std::string& state = "4: ACTIVE",
                const std::string& link_layer = "Ethernet", const std::string& lid = "0x0") {
    auto d = port_dir(dev, port);
    write(d / "state", state);
    write(d / "link_layer", link_layer);
    write(d / "lid", lid);
    write(d / "sm_lid", "0x0");
    write(d / "pkeys" / "0", "0xffff");
    std::filesystem::create_directories(d / "gids");
  }
  // GID `index` in sysfs's text ("0000:0000:0000:0000:0000:ffff:c633:6403"), with its type
  // ("RoCE v2", "IB/RoCE v1") and net device; an empty type leaves the attribute files out.
  void add_gid(const std::string& dev, int port, int index, const std::string& gid,
               const std::string& type = "RoCE v2", const std::string& ndev = "eth0") {
    auto d = port_dir(dev, port);
    write(d / "gids" / std::to_string(index), gid);
    if (type.empty()) return;
    write(d / "gid_attrs" / "types" / std::to_string(index), type);
    write(d / "gid_attrs" / "ndevs" / std::to_string(index), ndev);
  }
  void set(const std::string& dev, int port, const std::string& file, const std::string& text) {
    write(port_dir(dev, port) / file, text);
  }
  void set_device(const std::string& dev, const std::string& file, const std::string& text) {
    write(std::filesystem::path(root_) / dev / file, text);
  }

 private:
  std::filesystem::path port_dir(const std::string& dev, int port) const {
    return std::filesystem::path(root_) / dev / "ports" / std::to_string(port);
  }
  static void write(const std::filesystem::path& file, const std::string& text) {
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << text << "\n";
  }
  std::string root_;
};

// sysfs's text for a GID: eight groups of four hex digits.
inline constexpr const char* kGidLinkLocal = "fe80:0000:0000:0000:5054:00ff:fe12:3403";
inline constexpr const char* kGidV4 = "0000:0000:0000:0000:0000:ffff:c633:6403";  // 198.51.100.3
inline constexpr const char* kGidV6 = "2001:0db8:0000:0000:0000:0000:0000:0003";  // 2001:db8::3
inline constexpr const char* kGidZero = "0000:0000:0000:0000:0000:0000:0000:0000";

}  // namespace ibcm::umad::test
