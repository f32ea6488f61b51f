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

namespace {
// The MAD status of the one answer to `bytes`, or -1 if there is not exactly one GetResp.
int answered_status(Pair& p, const wire::MadBytes& bytes) {
  p.b.handle_mad(p.now, p.a.config().local, bytes);
  p.collect();
  if (p.in_flight.size() != 1 || p.in_flight.front().bytes[3] != 0x81) return -1;
  const auto& b = p.in_flight.front().bytes;
  return b[4] << 8 | b[5];
}
}  // namespace

TEST(MadService, ClassPortInfoSetGetsUnsupportedMethodAttributeStatus) {
  Pair p;
  wire::Mad set{wire::MadHeader{}, wire::ClassPortInfo{}};
  set.header.method = static_cast<uint8_t>(wire::Method::Set);
  EXPECT_EQ(answered_status(p, wire::encode(set)), 0x000C);
  EXPECT_EQ(p.b.counters().drop(Drop::UnsupportedMad), 1u);
  EXPECT_EQ(p.b.counters().total_drops(), 1u);
}

// Get and Set exist, but no CM attribute except ClassPortInfo takes them: the method/attribute
// combination is unsupported (0x000C, IB_MGMT_MAD_STATUS_UNSUPPORTED_METHOD_ATTRIB).
TEST(MadService, GetOrSetOfACmAttributeGetsUnsupportedMethodAttributeStatus) {
  for (uint8_t method : {uint8_t{0x01}, uint8_t{0x02}}) {
    Pair p;
    auto mad = wire::encode(wire::make_mad(wire::Rtu{}, 3));
    mad[3] = method;
    EXPECT_EQ(answered_status(p, mad), 0x000C) << int{method};
    EXPECT_EQ(p.b.counters().drop(Drop::Method), 1u);
    EXPECT_EQ(p.b.counters().total_drops(), 1u);  // counted once, under its decode reason
  }
}

// A method management classes do not define for the CM at all is the method itself unsupported
// (0x0008, IB_MGMT_MAD_STATUS_UNSUPPORTED_METHOD).
TEST(MadService, AnotherMethodGetsUnsupportedMethodStatus) {
  Pair p;
  auto mad = wire::encode(wire::make_mad(wire::Rtu{}, 3));
  mad[3] = 0x05;  // GetTable
  EXPECT_EQ(answered_status(p, mad), 0x0008);
  EXPECT_EQ(p.b.counters().drop(Drop::Method), 1u);
  EXPECT_EQ(p.b.counters().total_drops(), 1u);
}

TEST(MadService, GetOfAnUnknownAttributeGetsUnsupportedMethodAttributeStatus) {
  Pair p;
  auto mad = wire::encode(wire::make_mad(wire::Rtu{}, 3));
  mad[3] = 0x01;
  mad[16] = 0x00;
  mad[17] = 0x40;  // no CM attribute
  EXPECT_EQ(answered_status(p, mad), 0x000C);
  EXPECT_EQ(p.b.counters().drop(Drop::UnknownAttribute), 1u);
  EXPECT_EQ(p.b.counters().total_drops(), 1u);
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
  EXPECT_EQ(p.in_flight.front().bytes[4] << 8 | p.in_flight.front().bytes[5], 0x0004);
  EXPECT_EQ(p.b.counters().drop(Drop::ClassVersion), 1u);
  EXPECT_EQ(p.b.counters().total_drops(), 1u);
}

// A REQ of a CM class version the engine does not speak (3) is not read as a REQ (counted as a
// drop), but it is answered: REJ 31 naming it by its LocalCommID, the highest class version the
// engine speaks (2) in the ARI; no connection on either side.
TEST(MadService, ReqOfAnotherClassVersionGetsRej31) {
  Pair p;
  ConnId ca = p.req_in_flight();
  p.in_flight.front().bytes[2] = 3;      // ClassVersion
  p.in_flight.front().bytes[8] ^= 0x55;  // a TID of its own, which the REJ copies
  wire::MadHeader h;
  ASSERT_TRUE(wire::decode_header(p.in_flight.front().bytes, h));
  p.deliver_one();
  EXPECT_EQ(p.b.counters().drop(Drop::ClassVersion), 1u);
  EXPECT_EQ(p.b.connection_count(), 0u);
  EXPECT_TRUE(p.b_events.empty());
  p.collect();
  ASSERT_FALSE(p.in_flight.empty());
  EXPECT_EQ(p.in_flight.front().mad().header.transaction_id, h.transaction_id);
  const auto r = p.deliver_rej(ca);
  EXPECT_EQ(r.reason, wire::RejReason::InvalidClassVersion);
  EXPECT_EQ(r.message_rejected, wire::MsgRef::Req);
  EXPECT_EQ(r.local_comm_id, 0u);
  ASSERT_EQ(r.rejected_info_length, 1u);
  EXPECT_EQ(r.ari[0], wire::kCmClassVersion);
  EXPECT_FALSE(p.a.state(ca).has_value());  // the REJ ends the attempt
  // Other messages of another class version are only counted.
  auto dreq = wire::encode(wire::make_mad(wire::Dreq{}, 9));
  dreq[2] = 3;
  p.b.handle_mad(p.now, p.a.config().local, dreq);
  p.collect();
  EXPECT_TRUE(p.in_flight.empty());
  EXPECT_EQ(p.b.counters().drop(Drop::ClassVersion), 2u);
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
