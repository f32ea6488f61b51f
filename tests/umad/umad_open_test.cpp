// UmadTransport::open from options: device, port, GID and P_Key choice from a sysfs tree, and
// each failure as one line of its own kind.
#include <gtest/gtest.h>

#include "umad/ports.h"
#include "umad/sysfs_tree.h"

using namespace ibcm;
using namespace ibcm::umad;
using namespace ibcm::umad::test;

namespace {

struct Host {
  SysfsTree sysfs;
  FakeFabric fabric;
  std::shared_ptr<FakePortState> port = fabric.add_port(LinkLayer::Ethernet, roce_gids(3));
  std::string opened;  // "rxe0:1": what open_port was asked for
  UmadOptions options;

  Host() {
    sysfs.add_port("rxe0", 1);
    sysfs.add_gid("rxe0", 1, 0, kGidLinkLocal);
    sysfs.add_gid("rxe0", 1, 1, kGidV4);
    sysfs.add_gid("rxe0", 1, 2, kGidV6);
    options.sysfs_root = sysfs.root();
    options.open_port = [this](const std::string& dev,
                               uint8_t n) -> Expected<std::unique_ptr<UmadPort>, UmadError> {
      opened = dev + ":" + std::to_string(n);
      return open_fake(port);
    };
  }
  Expected<std::unique_ptr<UmadTransport>, UmadError> open() {
    return UmadTransport::open(options);
  }
  UmadError error() {
    auto t = open();
    EXPECT_FALSE(t.has_value());
    return t ? UmadError{} : t.error();
  }
};

IpEndpoint ip(const char* text) {
  return *parse_endpoint(text, 0);
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST(UmadOpen, PicksTheRoceV2GidOfTheLocalAddress) {
  Host s;
  s.options.device = "rxe0";
  s.options.local_ip = ip("198.51.100.3");
  auto t = s.open();
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(s.opened, "rxe0:1");
  EXPECT_EQ((*t)->local_port().gid_index, 1);
  EXPECT_EQ(format_gid((*t)->local().gid), "::ffff:198.51.100.3");
  s.options.local_ip = ip("2001:db8::3");
  auto v6 = s.open();
  ASSERT_TRUE(v6.has_value()) << v6.error().message;
  EXPECT_EQ((*v6)->local_port().gid_index, 2);
}

TEST(UmadOpen, DefaultsToTheFirstDeviceWithAnActivePortAndItsFirstGlobalRoceV2Gid) {
  Host s;
  s.sysfs.add_port("mlx5_0", 1, "1: DOWN");  // sorts first, but its port is down
  s.sysfs.add_port("rxe0", 2, "1: DOWN");
  auto t = s.open();
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(s.opened, "rxe0:1");
  EXPECT_EQ((*t)->local_port().gid_index, 1);  // not 0, the link-local one
  EXPECT_EQ((*t)->name(), "umad rxe0:1");
}

TEST(UmadOpen, AGidIndexGivenIsUsedAndCheckedAgainstTheAddress) {
  Host s;
  s.options.gid_index = 2;
  auto t = s.open();
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ((*t)->local_port().gid_index, 2);
  s.options.local_ip = ip("198.51.100.3");
  UmadError e = s.error();
  EXPECT_EQ(e.kind, UmadErrorKind::NoGid);
  EXPECT_TRUE(has(e.message, "GID 2 of rxe0 port 1 is 2001:db8::3, not that of 198.51.100.3"))
      << e.message;
  s.options.gid_index = 7;
  EXPECT_TRUE(has(s.error().message, "rxe0 port 1 has no GID at index 7")) << s.error().message;
}

TEST(UmadOpen, NoSuchDevice) {
  Host s;
  s.options.device = "mlx4_0";
  UmadError e = s.error();
  EXPECT_EQ(e.kind, UmadErrorKind::NoDevice);
  EXPECT_EQ(e.message, "no RDMA device mlx4_0 (devices: rxe0)");
  SysfsTree empty;
  s.options.device.clear();
  s.options.sysfs_root = empty.root();
  e = s.error();
  EXPECT_EQ(e.kind, UmadErrorKind::NoDevice);
  EXPECT_TRUE(has(e.message, "rdma link add")) << e.message;
  EXPECT_TRUE(s.opened.empty());
}

TEST(UmadOpen, NoSuchPort) {
  Host s;
  s.options.device = "rxe0";
  s.options.port_num = 2;
  UmadError e = s.error();
  EXPECT_EQ(e.kind, UmadErrorKind::NoPort);
  EXPECT_EQ(e.message, "RDMA device rxe0 has no port 2 (ports: 1)");
}

TEST(UmadOpen, PortNotActive) {
  Host s;
  s.sysfs.set("rxe0", 1, "state", "1: DOWN");
  s.options.device = "rxe0";
  s.options.port_num = 1;
  UmadError e = s.error();
  EXPECT_EQ(e.kind, UmadErrorKind::PortNotActive);
  EXPECT_EQ(e.message, "rxe0 port 1: DOWN, not ACTIVE (is its link up?)");
  s.options.port_num = 0;
  e = s.error();
  EXPECT_EQ(e.kind, UmadErrorKind::PortNotActive);
  EXPECT_TRUE(has(e.message, "no ACTIVE port (rxe0 port 1: DOWN")) << e.message;
}

TEST(UmadOpen, NoRoceV2GidForTheAddressListsTheGidsThereAre) {
  Host s;
  s.options.local_ip = ip("198.51.100.9");
  UmadError e = s.error();
  EXPECT_EQ(e.kind, UmadErrorKind::NoGid);
  EXPECT_TRUE(has(e.message, "rxe0 port 1 has no RoCE v2 GID for 198.51.100.9")) << e.message;
  EXPECT_TRUE(has(e.message, "1 ::ffff:198.51.100.3 RoCE v2 eth0")) << e.message;
  EXPECT_EQ(e.message.find('\n'), std::string::npos);
}

TEST(UmadOpen, RegistrationRefusedBecauseTheKernelCmOwnsTheClass) {
  Host s;
  s.port->register_errno = EINVAL;  // ib_register_mad_agent: "Method 3 already in use"
  UmadError e = s.error();
  EXPECT_EQ(e.kind, UmadErrorKind::ClassInUse);
  EXPECT_EQ(e.message,
            "class 0x07 (CM) is already registered on rxe0 port 1, probably by the kernel CM: "
            "unload it with `rmmod rdma_ucm rdma_cm iw_cm ib_cm`");
  s.port->register_errno = ENOMEM;
  e = s.error();
  EXPECT_EQ(e.kind, UmadErrorKind::RegisterFailed);
  EXPECT_TRUE(has(e.message, "Cannot allocate memory")) << e.message;
}

TEST(UmadOpen, UmadDeviceNotOpenableIsPassedOn) {
  Host s;
  s.options.open_port = [](const std::string&,
                           uint8_t) -> Expected<std::unique_ptr<UmadPort>, UmadError> {
    return Unexpected{UmadError{UmadErrorKind::UmadUnavailable, "cannot open"}};
  };
  EXPECT_EQ(s.error().kind, UmadErrorKind::UmadUnavailable);
}

TEST(UmadOpen, PkeyMustBeInThePortsTable) {
  Host s;
  s.options.pkey = 0x8001;
  UmadError e = s.error();
  EXPECT_EQ(e.kind, UmadErrorKind::NoPkey);
  EXPECT_EQ(e.message, "P_Key 0x8001 is not in the P_Key table of rxe0 port 1 (0xffff)");
  s.options.pkey = 0x8000;
  EXPECT_EQ(s.error().kind, UmadErrorKind::NoPkey);
}

TEST(UmadOpen, InfiniBandSendsFromThePortGidWithItsLid) {
  Host s;
  s.sysfs.add_port("mlx5_0", 1, "4: ACTIVE", "InfiniBand", "0x13");
  s.sysfs.add_gid("mlx5_0", 1, 0, "fe80:0000:0000:0000:0002:c903:0000:0003", "IB/RoCE v1", "");
  s.options.device = "mlx5_0";
  auto t = s.open();
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ((*t)->local_port().link_layer, LinkLayer::InfiniBand);
  EXPECT_EQ((*t)->local_port().gid_index, 0);
  EXPECT_EQ((*t)->local().lid, 0x13);
}

TEST(UmadOpen, TheRealPortOnADeviceThatDoesNotExistSaysWhichAndWhy) {
  // libibumad itself, with no device of that name on any machine: one line naming the port.
  auto p = open_libibumad_port("ibcm-no-such-device", 1);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().kind, UmadErrorKind::UmadUnavailable);
  EXPECT_TRUE(has(p.error().message, "ibcm-no-such-device port 1")) << p.error().message;
  EXPECT_EQ(p.error().message.find('\n'), std::string::npos);
}

TEST(UmadOpen, KnowsWhetherItsGidIsRoceV2AndItsNetDevice) {
  Host s;
  s.sysfs.add_gid("rxe0", 1, 3, "0000:0000:0000:0000:0000:ffff:c633:6409", "IB/RoCE v1", "eth1");
  s.options.local_ip = ip("198.51.100.3");
  auto v2 = s.open();
  ASSERT_TRUE(v2.has_value()) << v2.error().message;
  EXPECT_TRUE((*v2)->local_port().roce_v2);
  EXPECT_EQ((*v2)->local_port().netdev, "eth0");
  s.options.local_ip.reset();
  s.options.gid_index = 3;
  auto v1 = s.open();
  ASSERT_TRUE(v1.has_value()) << v1.error().message;
  EXPECT_FALSE((*v1)->local_port().roce_v2);  // RoCE v1 frames are not UDP: never sent direct
  EXPECT_FALSE((*v1)->sends_direct());
  EXPECT_EQ((*v1)->local_port().netdev, "eth1");
}
