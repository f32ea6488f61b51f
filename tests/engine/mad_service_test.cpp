// ClassPortInfo (which Linux never answers), MAD status answers, and bad input.
#include <gtest/gtest.h>

#include "engine/pair.h"

using namespace ibcm;
using namespace ibcm::test;

TEST(MadService, ClassPortInfoGetIsAnsweredWithGetResp) {
  Pair p;
  wire::Mad get{wire::MadHeader{}, wire::ClassPortInfo{}};
  get.header.method = static_cast<uint8_t>(wire::Method::Get);
  get.header.transaction_id = 0xfeed;
  p.b.handle_mad(p.now, p.a.config().local, wire::encode(get));
  p.collect();
  ASSERT_EQ(p.in_flight.size(), 1u);
  auto resp = p.in_flight.front().mad();
  EXPECT_EQ(resp.header.method, static_cast<uint8_t>(wire::Method::GetResp));
  EXPECT_EQ(resp.header.transaction_id, 0xfeedu);
  EXPECT_EQ(resp.header.status, 0);
  const auto& info = std::get<wire::ClassPortInfo>(resp.message);
  EXPECT_EQ(info.base_version, 1);
  EXPECT_EQ(info.class_version, 2);
  EXPECT_EQ(info.resp_time_value, p.b.config().cm_response_timeout);
  EXPECT_EQ(p.in_flight.front().to, p.a.config().local);
}

TEST(MadService, ClassPortInfoSetGetsUnsupportedStatus) {
  Pair p;
  wire::Mad set{wire::MadHeader{}, wire::ClassPortInfo{}};
  set.header.method = static_cast<uint8_t>(wire::Method::Set);
  p.b.handle_mad(p.now, p.a.config().local, wire::encode(set));
  p.collect();
  ASSERT_EQ(p.in_flight.size(), 1u);
  auto bytes = p.in_flight.front().bytes;
  EXPECT_EQ(bytes[3], 0x81);  // GetResp
  EXPECT_EQ(bytes[4] << 8 | bytes[5], static_cast<int>(wire::MadStatus::UnsupportedMethodAttr));
}

TEST(MadService, GetOfACmAttributeGetsUnsupportedMethodStatus) {
  Pair p;
  auto mad = wire::encode(wire::make_mad(wire::Rtu{}, 3));
  mad[3] = 0x01;  // Get RTU: not a thing
  p.b.handle_mad(p.now, p.a.config().local, mad);
  p.collect();
  ASSERT_EQ(p.in_flight.size(), 1u);
  EXPECT_EQ(p.in_flight.front().bytes[3], 0x81);
  EXPECT_NE(p.in_flight.front().bytes[4] << 8 | p.in_flight.front().bytes[5], 0);
  EXPECT_EQ(p.b.counters().drop(Drop::Method), 1u);
}

TEST(MadService, WrongClassVersionGetIsAnsweredBadVersion) {
  Pair p;
  wire::Mad get{wire::MadHeader{}, wire::ClassPortInfo{}};
  get.header.method = static_cast<uint8_t>(wire::Method::Get);
  auto bytes = wire::encode(get);
  bytes[2] = 1;
  p.b.handle_mad(p.now, p.a.config().local, bytes);
  p.collect();
  ASSERT_EQ(p.in_flight.size(), 1u);
  EXPECT_EQ(p.in_flight.front().bytes[4] << 8 | p.in_flight.front().bytes[5],
            static_cast<int>(wire::MadStatus::BadVersion));
}

TEST(MadService, GarbageIsCountedAndChangesNothing) {
  Pair p;
  auto [ca, cb] = p.connect();
  std::vector<uint8_t> junk(100, 0xAB);
  p.b.handle_mad(p.now, p.a.config().local, junk);
  auto bytes = wire::encode(wire::make_mad(wire::Rtu{}, 1));
  bytes[0] = 9;
  p.b.handle_mad(p.now, p.a.config().local, bytes);
  EXPECT_EQ(p.b.counters().drop(Drop::ShortBuffer), 1u);
  EXPECT_EQ(p.b.counters().drop(Drop::BaseVersion), 1u);
  EXPECT_EQ(p.b.state(cb), State::Established);
  p.collect();
  EXPECT_TRUE(p.in_flight.empty());
  (void)ca;
}

TEST(MadService, MessageNamingAConnectionFromTheWrongAddressIsIgnored) {
  Pair p;
  auto [ca, cb] = p.connect();
  wire::Dreq d;
  d.local_comm_id = ca;
  d.remote_comm_id = cb;
  d.remote_qpn = 0x200;
  p.b.handle_mad(p.now, addr_of(66), wire::encode(wire::make_mad(d, 1)));
  EXPECT_EQ(p.b.state(cb), State::Established);
  EXPECT_EQ(p.b.counters().drop(Drop::WrongSource), 1u);
  // And with the right address but a wrong sender comm ID it is an unknown connection's DREQ.
  d.local_comm_id = ca ^ 1;
  p.b.handle_mad(p.now, p.a.config().local, wire::encode(wire::make_mad(d, 1)));
  EXPECT_EQ(p.b.state(cb), State::Established);
}

TEST(MadService, LoggerIsToldAboutDrops) {
  Pair p;
  std::vector<std::string> lines;
  p.b.set_logger([&](LogLevel, std::string_view s) { lines.emplace_back(s); });
  p.b.handle_mad(p.now, p.a.config().local, wire::encode(wire::make_mad(wire::Rtu{}, 1)));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("RTU"), std::string::npos);
  EXPECT_EQ(p.b.counters().drop(Drop::UnknownConnection), 1u);
}
