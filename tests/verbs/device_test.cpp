// Opening a device port: what it reports, and one clear line for each way it cannot be used,
// with nothing left open.
#include "ibcm/verbs/device.h"

#include <gtest/gtest.h>

#include "verbs/fake_verbs.h"

using namespace ibcm;
using namespace ibcm::verbs;
using namespace ibcm::verbs::test;

TEST(Device, OpensThePortAndReadsItsGidTable) {
  FakeVerbs v;
  {
    auto d = Device::open(v, "rxe0", 1);
    ASSERT_TRUE(d.has_value()) << d.error().message;
    EXPECT_EQ(d->port().active_mtu, wire::Mtu::Mtu1024);
    EXPECT_EQ(d->port().link_layer, IBV_LINK_LAYER_ETHERNET);
    EXPECT_EQ(d->port().gid_table_len, 2);
    auto g = d->gid(1);
    ASSERT_TRUE(g.has_value());
    EXPECT_EQ(*g, (wire::Gid{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 3}));
    EXPECT_FALSE(d->gid(7).has_value());
    EXPECT_EQ(*d->pkey_index(0xFFFF), 0);
    auto none = d->pkey_index(0x8001);
    ASSERT_FALSE(none.has_value());
    EXPECT_NE(none.error().message.find("P_Key 0x8001"), std::string::npos);
    EXPECT_EQ(v.live.contexts + v.live.pds, 2);
  }
  EXPECT_EQ(v.live.total(), 0);
}

TEST(Device, NoSuchDeviceNamesTheOnesThereAre) {
  FakeVerbs v;
  v.devices = {"rxe0", "mlx5_0"};
  auto d = Device::open(v, "rxe9", 1);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().call, Call::OpenDevice);
  EXPECT_EQ(d.error().message, "no RDMA device rxe9 (devices: rxe0, mlx5_0)");
  EXPECT_EQ(v.live.total(), 0);
}

TEST(Device, PortDownIsRefusedAndClosesTheDevice) {
  FakeVerbs v;
  v.port.state = IBV_PORT_DOWN;
  auto d = Device::open(v, "rxe0", 1);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().message, "device rxe0 port 1 is DOWN, not ACTIVE");
  EXPECT_EQ(d.error().code, ENETDOWN);
  EXPECT_EQ(v.live.total(), 0);
}

TEST(Device, NoSuchPort) {
  FakeVerbs v;
  auto d = Device::open(v, "rxe0", 2);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().call, Call::QueryPort);
  EXPECT_NE(d.error().message.find("device rxe0 port 2: ibv_query_port failed"), std::string::npos)
      << d.error().message;
  EXPECT_EQ(v.live.total(), 0);
}
