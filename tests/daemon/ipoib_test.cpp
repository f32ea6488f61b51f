// IPoIB hardware addresses as sysfs shows them, and the GID and P_Key rdma_cm reads from them.
#include "ibcm/daemon/ipoib.h"

#include <gtest/gtest.h>

namespace ibcm::daemon {
namespace {

// ib0 of a ConnectX port in the default partition, as /sys/class/net/ib0/{address,broadcast}.
constexpr char kAddress[] = "00:00:10:87:fe:80:00:00:00:00:00:00:24:8a:07:03:00:49:d4:f0";
constexpr char kBroadcast[] = "00:ff:ff:ff:ff:12:40:1b:80:05:00:00:00:00:00:00:ff:ff:ff:ff";

TEST(Ipoib, TheGidIsBytes4To19AndTheBroadcastHoldsTheBroadcastPkey) {
  auto address = parse_ipoib_address(kAddress);
  auto broadcast = parse_ipoib_address(kBroadcast);
  ASSERT_TRUE(address && broadcast);
  EXPECT_EQ((*address)[2], 0x10);  // the QPN comes first
  wire::Gid want{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x24, 0x8a, 0x07, 0x03, 0x00, 0x49, 0xd4, 0xf0};
  EXPECT_EQ(ipoib_gid(*address), want);
  EXPECT_EQ(ipoib_pkey(IpoibNetdev{*address, *broadcast}), 0x8005);  // a child interface's
}

TEST(Ipoib, OnlyTwentyBytesParse) {
  EXPECT_FALSE(parse_ipoib_address("52:54:00:12:34:56"));  // Ethernet
  EXPECT_FALSE(parse_ipoib_address(std::string(kAddress) + ":00"));
  EXPECT_FALSE(parse_ipoib_address("00:00:10:87:fe:80:00:00:00:00:00:00:24:8a:07:03:00:49:d4:g0"));
  EXPECT_FALSE(parse_ipoib_address("00-00-10-87-fe-80-00-00-00-00-00-00-24-8a-07-03-00-49-d4-f0"));
  EXPECT_FALSE(parse_ipoib_address(""));
}

}  // namespace
}  // namespace ibcm::daemon
