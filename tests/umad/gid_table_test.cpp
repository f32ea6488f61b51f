// The GID table and port readers over a sysfs tree in a temporary directory.
#include "ibcm/umad/gid_table.h"

#include <gtest/gtest.h>

#include "ibcm/umad/port_info.h"
#include "umad/sysfs_tree.h"

using namespace ibcm;
using namespace ibcm::umad;
using ibcm::umad::test::SysfsTree;

namespace {

IpEndpoint ip(const char* text) {
  auto ep = parse_endpoint(text, 0);
  EXPECT_TRUE(ep.has_value()) << text;
  return *ep;
}

// rxe0 port 1 as soft-RoCE sets it up: GID 0 link-local, GID 1 the IPv4 address, both RoCE v2,
// each also as RoCE v1 (2, 3), an IPv6 address at 4, and unused zero entries.
void add_rxe(SysfsTree& t) {
  t.add_port("rxe0", 1);
  t.add_gid("rxe0", 1, 0, umad::test::kGidLinkLocal);
  t.add_gid("rxe0", 1, 1, umad::test::kGidV4);
  t.add_gid("rxe0", 1, 2, umad::test::kGidLinkLocal, "IB/RoCE v1");
  t.add_gid("rxe0", 1, 3, umad::test::kGidV4, "IB/RoCE v1");
  t.add_gid("rxe0", 1, 4, umad::test::kGidV6);
  t.add_gid("rxe0", 1, 5, umad::test::kGidZero, "");
}

}  // namespace

TEST(GidTable, ReadsEveryUsedEntryWithTypeAndNetDevice) {
  SysfsTree t;
  add_rxe(t);
  auto table = read_gid_table(t.root(), "rxe0", 1);
  ASSERT_EQ(table.size(), 5u);  // the zero entry is unused
  EXPECT_EQ(table[1].index, 1);
  EXPECT_EQ(format_gid(table[1].gid), "::ffff:198.51.100.3");
  EXPECT_EQ(table[1].type, GidType::RoceV2);
  EXPECT_EQ(table[1].ndev, "eth0");
  EXPECT_EQ(table[3].type, GidType::IbRoceV1);
  EXPECT_EQ(format_gid(table[4].gid), "2001:db8::3");
}

TEST(GidTable, FindsTheRoceV2GidOfAnIpv4Address) {
  SysfsTree t;
  add_rxe(t);
  auto e = find_roce_v2_gid(read_gid_table(t.root(), "rxe0", 1), ip("198.51.100.3"));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->index, 1);  // not 3, the same GID as RoCE v1
}

TEST(GidTable, FindsTheRoceV2GidOfAnIpv6Address) {
  SysfsTree t;
  add_rxe(t);
  auto e = find_roce_v2_gid(read_gid_table(t.root(), "rxe0", 1), ip("2001:db8::3"));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->index, 4);
}

TEST(GidTable, OnlyRoceV1ForTheAddressIsNotFound) {
  SysfsTree t;
  t.add_port("rxe0", 1);
  t.add_gid("rxe0", 1, 0, umad::test::kGidV4, "IB/RoCE v1");
  auto table = read_gid_table(t.root(), "rxe0", 1);
  ASSERT_EQ(table.size(), 1u);
  EXPECT_FALSE(find_roce_v2_gid(table, ip("198.51.100.3")).has_value());
}

TEST(GidTable, AnAddressWithNoGidIsNotFound) {
  SysfsTree t;
  add_rxe(t);
  auto table = read_gid_table(t.root(), "rxe0", 1);
  EXPECT_FALSE(find_roce_v2_gid(table, ip("198.51.100.9")).has_value());
  EXPECT_FALSE(find_roce_v2_gid(table, ip("2001:db8::9")).has_value());
}

TEST(GidTable, MissingDeviceOrPortReadsEmpty) {
  SysfsTree t;
  add_rxe(t);
  EXPECT_TRUE(read_gid_table(t.root(), "rxe9", 1).empty());
  EXPECT_TRUE(read_gid_table(t.root(), "rxe0", 2).empty());
}

TEST(GidTable, DescribeListsIndexGidTypeAndDevice) {
  SysfsTree t;
  t.add_port("rxe0", 1);
  t.add_gid("rxe0", 1, 1, umad::test::kGidV4);
  EXPECT_EQ(describe(read_gid_table(t.root(), "rxe0", 1)), "1 ::ffff:198.51.100.3 RoCE v2 eth0");
  EXPECT_EQ(describe({}), "none");
}

TEST(GidTable, ParsesSysfsAndShortForms) {
  auto a = parse_gid(umad::test::kGidLinkLocal);
  auto b = parse_gid("fe80::5054:ff:fe12:3403");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_FALSE(parse_gid("not a gid").has_value());
}

TEST(PortInfo, ReadsStateLinkLayerLidsAndPkeys) {
  SysfsTree t;
  t.add_port("mlx5_0", 1, "4: ACTIVE", "InfiniBand", "0x1a");
  t.set("mlx5_0", 1, "sm_lid", "0x1");
  t.set("mlx5_0", 1, "pkeys/1", "0x8001");
  t.add_gid("mlx5_0", 1, 0, "fe80:0000:0000:0000:0002:c903:0001:0002", "IB/RoCE v1", "");
  t.add_port("mlx5_0", 2, "1: DOWN", "InfiniBand");
  auto p = read_port_info(t.root(), "mlx5_0", 1);
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->active);
  EXPECT_EQ(p->state, "ACTIVE");
  EXPECT_EQ(p->link_layer, LinkLayer::InfiniBand);
  EXPECT_EQ(p->lid, 0x1a);
  EXPECT_EQ(p->sm_lid, 1);
  EXPECT_EQ(p->pkeys, (std::vector<uint16_t>{0xffff, 0x8001}));
  ASSERT_EQ(p->gids.size(), 1u);
  auto down = read_port_info(t.root(), "mlx5_0", 2);
  ASSERT_TRUE(down.has_value());
  EXPECT_FALSE(down->active);
  EXPECT_EQ(down->state, "DOWN");
  EXPECT_FALSE(read_port_info(t.root(), "mlx5_0", 3).has_value());
  EXPECT_EQ(list_ports(t.root(), "mlx5_0"), (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(list_devices(t.root()), (std::vector<std::string>{"mlx5_0"}));
}

TEST(PortInfo, ReadsTheNodeGuidAsTheCaGuid) {
  SysfsTree t;
  t.add_port("rxe0", 1);
  t.set_device("rxe0", "node_guid", "5054:00ff:fe12:3456");
  EXPECT_EQ(read_node_guid(t.root(), "rxe0"), 0x505400fffe123456ull);
  t.set_device("rxe1", "node_guid", "5054:00ff:fe12");  // too short
  EXPECT_EQ(read_node_guid(t.root(), "rxe1"), std::nullopt);
  t.set_device("rxe2", "node_guid", "5054:00ff:fe12:34zz");
  EXPECT_EQ(read_node_guid(t.root(), "rxe2"), std::nullopt);
  EXPECT_EQ(read_node_guid(t.root(), "mlx5_0"), std::nullopt);
}
