// ib_mad_addr <-> Address, both ways, on RoCE and on InfiniBand.
#include "umad/address_map.h"

#include <gtest/gtest.h>

#include "umad/ports.h"

using namespace ibcm;
using namespace ibcm::umad;
using namespace ibcm::umad::test;

TEST(AddressMap, RoceReceiveTakesTheGidFromTheGrh) {
  MadAddress in;
  in.qpn = 1;
  in.lid = 0;  // RoCE reports LID 0
  in.grh_present = true;
  in.gid = roce_gids(2)[1];
  in.gid_index = 1;
  in.hop_limit = 64;
  Address a = address_from(in, roce_port(3));
  EXPECT_EQ(a.gid, roce_gids(2)[1]);
  EXPECT_EQ(a.lid, 0xFFFF);  // no LIDs on RoCE, as the RoCEv2 transport says it
  EXPECT_EQ(a.qpn, 1u);
  EXPECT_EQ(a.pkey, 0xFFFF);
  EXPECT_EQ(a.port, 0);
}

TEST(AddressMap, RoceSendWithoutHistoryUsesTheDefaults) {
  Address to;
  to.gid = roce_gids(2)[1];
  MadAddress out = address_to(to, nullptr, roce_port(3));
  EXPECT_TRUE(out.grh_present);  // the kernel cannot build a RoCE packet without one
  EXPECT_EQ(out.gid, to.gid);
  EXPECT_EQ(out.gid_index, 1);  // ours
  EXPECT_EQ(out.hop_limit, kDefaultHopLimit);
  EXPECT_EQ(out.flow_label, 0u);
  EXPECT_EQ(out.traffic_class, 0);
  EXPECT_EQ(out.lid, 0);
  EXPECT_EQ(out.qpn, 1u);
  EXPECT_EQ(out.qkey, 0x80010000u);
  EXPECT_EQ(out.pkey_index, 0);
}

TEST(AddressMap, RoceAnswerGoesTheWayTheMadCame) {
  MadAddress in;
  in.grh_present = true;
  in.gid = roce_gids(2)[1];
  in.gid_index = 0;  // the peer addressed our link-local GID
  in.hop_limit = 7;
  in.traffic_class = 0x20;
  in.flow_label = 0x12345;
  in.sl = 3;
  LocalPort port = roce_port(3);
  Address from = address_from(in, port);
  PeerPath path = path_from(in, from);
  MadAddress out = address_to(from, &path, port);
  EXPECT_TRUE(out.grh_present);
  EXPECT_EQ(out.gid, in.gid);
  EXPECT_EQ(out.gid_index, 0);
  EXPECT_EQ(out.hop_limit, 7);
  EXPECT_EQ(out.traffic_class, 0x20);
  EXPECT_EQ(out.flow_label, 0x12345u);
  EXPECT_EQ(out.sl, 3);
}

TEST(AddressMap, IbReceiveWithoutGrhNamesThePeerByLid) {
  MadAddress in;
  in.qpn = 1;
  in.lid = 0x12;
  in.sl = 2;
  in.pkey_index = 1;
  Address a = address_from(in, ib_port(3, 0x13));
  EXPECT_EQ(a.lid, 0x12);
  EXPECT_EQ(a.gid, wire::Gid{});
  EXPECT_EQ(a.pkey, 0x8001);  // P_Key index 1 of the port's table
  in.pkey_index = 9;          // outside the table
  EXPECT_EQ(address_from(in, ib_port(3, 0x13)).pkey, 0xFFFF);
}

TEST(AddressMap, IbSendInTheSubnetIsLidRoutedWithoutGrh) {
  Address to;
  to.lid = 0x12;
  to.gid = ib_gid(2);  // same subnet prefix as ours
  to.pkey = 0x8001;
  MadAddress out = address_to(to, nullptr, ib_port(3, 0x13));
  EXPECT_FALSE(out.grh_present);
  EXPECT_EQ(out.lid, 0x12);
  EXPECT_EQ(out.sl, 0);
  EXPECT_EQ(out.pkey_index, 1);
  to.gid = {};  // GID unknown (the peer sent no GRH)
  EXPECT_FALSE(address_to(to, nullptr, ib_port(3, 0x13)).grh_present);
}

TEST(AddressMap, IbSendToAnotherSubnetCarriesAGrh) {
  Address to;
  to.lid = 0x40;  // the router's
  to.gid = ib_gid(2);
  to.gid[7] = 0x99;  // another subnet prefix
  MadAddress out = address_to(to, nullptr, ib_port(3, 0x13));
  EXPECT_TRUE(out.grh_present);
  EXPECT_EQ(out.gid, to.gid);
  EXPECT_EQ(out.lid, 0x40);
  EXPECT_EQ(out.hop_limit, kDefaultHopLimit);
}

TEST(AddressMap, IbAnswerCopiesSlPathBitsAndGrhOfTheRequest) {
  MadAddress in;
  in.lid = 0x12;
  in.sl = 5;
  in.path_bits = 1;
  in.grh_present = true;
  in.gid = ib_gid(2);
  in.hop_limit = 255;
  LocalPort port = ib_port(3, 0x13);
  Address from = address_from(in, port);
  PeerPath path = path_from(in, from);
  MadAddress out = address_to(from, &path, port);
  EXPECT_EQ(out.lid, 0x12);
  EXPECT_EQ(out.sl, 5);
  EXPECT_EQ(out.path_bits, 1);
  EXPECT_TRUE(out.grh_present);  // it came with one, though in our subnet
  EXPECT_EQ(out.hop_limit, 255);
}

TEST(AddressMap, PkeyIndexPrefersTheExactKeyThenTheSamePartition) {
  std::vector<uint16_t> table{0xFFFF, 0x0001, 0x8001};
  EXPECT_EQ(pkey_index_of(table, 0x8001), 2);
  EXPECT_EQ(pkey_index_of(table, 0x0001), 1);
  EXPECT_EQ(pkey_index_of({0xFFFF, 0x0001}, 0x8001), 1);
  EXPECT_FALSE(pkey_index_of(table, 0x8002).has_value());
  EXPECT_FALSE(pkey_index_of({0x0000}, 0x8000).has_value());
}
