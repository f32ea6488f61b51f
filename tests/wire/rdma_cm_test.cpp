// rdma_cm conventions: IP-based service IDs and the 36-byte private-data header, checked against
// the REQ that Linux's rdma_cm (rping) sent in the vectors.
#include "ibcm/wire/rdma_cm.h"

#include <gtest/gtest.h>

#include <vector>

#include "ibcm/wire/mad.h"
#include "ibcm/wire/pcap.h"
#include "ibcm/wire/roce.h"

using namespace ibcm::wire;
using rdma_cm::PortSpace;

namespace {

std::array<uint8_t, 16> v4addr(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  std::array<uint8_t, 16> out{};
  out[12] = a, out[13] = b, out[14] = c, out[15] = d;
  return out;
}

// The REQ that Linux's rping -c sent (first frame of the unanswered capture).
Req linux_req() {
  auto recs = pcap::read_file(std::string(IBCM_VECTORS_DIR) + "/linux61-req-unanswered.pcap");
  EXPECT_TRUE(recs.has_value());
  if (!recs) return {};
  auto p = roce::parse_ethernet_frame((*recs)[0].data);
  EXPECT_TRUE(p.has_value());
  if (!p) return {};
  auto m = decode(p->dgram.payload);
  EXPECT_TRUE(m.has_value());
  if (!m || !std::holds_alternative<Req>(m->message)) return {};
  return std::get<Req>(m->message);
}

}  // namespace

TEST(RdmaCmServiceId, PortSpaceInBits16To31) {
  EXPECT_EQ(rdma_cm::service_id(PortSpace::TCP, 7174), 0x0000000001061C06u);
  EXPECT_EQ(rdma_cm::service_id(PortSpace::UDP, 1), 0x0000000001110001u);
  EXPECT_EQ(rdma_cm::service_id(PortSpace::IB, 0xffff), 0x00000000013FFFFFu);
  EXPECT_EQ(rdma_cm::service_id(PortSpace::IPoIB, 0), 0x0000000000020000u);
  // On the wire (big-endian, REQ bytes 8..15) for TCP port p: 00 00 00 00 01 06 p_hi p_lo.
  Req req;
  req.service_id = rdma_cm::service_id(PortSpace::TCP, 0x1C06);
  auto bytes = encode(make_mad(req, 1));
  const std::vector<uint8_t> want{0, 0, 0, 0, 0x01, 0x06, 0x1C, 0x06};
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin() + 24 + 8, bytes.begin() + 24 + 16), want);
}

TEST(RdmaCmServiceId, ParseIsTheInverseAndRejectsOtherIds) {
  for (auto ps : {PortSpace::IPoIB, PortSpace::TCP, PortSpace::UDP, PortSpace::IB}) {
    for (uint16_t port : {0, 1, 7174, 65535}) {
      auto s = rdma_cm::parse_service_id(rdma_cm::service_id(ps, port));
      ASSERT_TRUE(s.has_value());
      EXPECT_EQ(s->space, ps);
      EXPECT_EQ(s->port, port);
    }
  }
  EXPECT_FALSE(rdma_cm::parse_service_id(0x0000000001071C06).has_value());  // no such space
  EXPECT_FALSE(rdma_cm::parse_service_id(0x0000000100061C06).has_value());
  EXPECT_FALSE(rdma_cm::parse_service_id(0x1000000001061C06).has_value());  // high bits set
  EXPECT_FALSE(rdma_cm::parse_service_id(0).has_value());
}

TEST(RdmaCmHeader, LinuxsReqCarriesTheHeaderWithZeroIpv4Padding) {
  Req req = linux_req();
  auto s = rdma_cm::parse_service_id(req.service_id);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->space, PortSpace::TCP);
  EXPECT_EQ(s->port, 7174);  // the destination port; the source port is in the header
  auto pd = std::span<const uint8_t>(req.private_data);
  // The 12 padding bytes before each IPv4 address really are zero in what Linux sends.
  for (size_t i = 4; i < 16; ++i) EXPECT_EQ(pd[i], 0) << i;
  for (size_t i = 20; i < 32; ++i) EXPECT_EQ(pd[i], 0) << i;
  auto h = rdma_cm::decode_header(pd);
  ASSERT_TRUE(h.has_value()) << rdma_cm::to_string(h.error());
  EXPECT_EQ(h->version, 0);
  EXPECT_EQ(h->ip_version, 4);
  EXPECT_EQ(h->src_port, 0xe09d);                   // rping's ephemeral port
  EXPECT_EQ(h->src_addr, v4addr(198, 51, 100, 2));  // the guest, the active side
  EXPECT_EQ(h->dst_addr, v4addr(198, 51, 100, 1));  // the host
  // The same IPv4 addresses as the REQ's (IPv4-mapped) path GIDs.
  EXPECT_TRUE(
      std::equal(h->src_addr.begin() + 12, h->src_addr.end(), req.primary.local_gid.begin() + 12));
  EXPECT_TRUE(
      std::equal(h->dst_addr.begin() + 12, h->dst_addr.end(), req.primary.remote_gid.begin() + 12));
  // rping sends no private data of its own: the rest is zero.
  for (size_t i = rdma_cm::kHeaderSize; i < pd.size(); ++i) EXPECT_EQ(pd[i], 0) << i;
  // Our encoder writes the same 36 bytes.
  std::array<uint8_t, rdma_cm::kHeaderSize> ours{};
  rdma_cm::encode_header(*h, ours);
  EXPECT_TRUE(std::equal(ours.begin(), ours.end(), pd.begin()));
}

TEST(RdmaCmHeader, EncodeLayout) {
  rdma_cm::Header h;
  h.ip_version = 6;
  h.src_port = 0x1234;
  for (uint8_t i = 0; i < 16; ++i) {
    h.src_addr[i] = static_cast<uint8_t>(0x20 + i);
    h.dst_addr[i] = static_cast<uint8_t>(0x40 + i);
  }
  std::array<uint8_t, rdma_cm::kHeaderSize> out;
  out.fill(0xee);  // the encoder must write every byte
  rdma_cm::encode_header(h, out);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], 0x60);
  EXPECT_EQ(out[2], 0x12);
  EXPECT_EQ(out[3], 0x34);
  for (size_t i = 0; i < 16; ++i) {
    EXPECT_EQ(out[4 + i], 0x20 + i);
    EXPECT_EQ(out[20 + i], 0x40 + i);
  }
  auto back = rdma_cm::decode_header(out);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, h);
}

TEST(RdmaCmHeader, Ipv4RoundTrip) {
  rdma_cm::Header h;
  h.src_port = 50000;
  h.src_addr = v4addr(10, 0, 0, 1);
  h.dst_addr = v4addr(10, 0, 0, 2);
  std::array<uint8_t, rdma_cm::kHeaderSize + 4> pd{};  // longer private data is fine
  rdma_cm::encode_header(h, std::span<uint8_t, rdma_cm::kHeaderSize>(pd.data(), 36));
  EXPECT_EQ(pd[1], 0x40);
  auto back = rdma_cm::decode_header(pd);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, h);
  EXPECT_EQ(rdma_cm::kMaxReqUserData, 56u);
  EXPECT_EQ(rdma_cm::kMaxSidrReqUserData, 180u);
}

TEST(RdmaCmHeader, ValidationErrors) {
  using E = rdma_cm::HeaderError;
  rdma_cm::Header h;
  h.src_addr = v4addr(10, 0, 0, 1);
  h.dst_addr = v4addr(10, 0, 0, 2);
  std::array<uint8_t, rdma_cm::kHeaderSize> good;
  rdma_cm::encode_header(h, good);
  auto error_of = [&](auto damage) {
    auto pd = good;
    damage(pd);
    auto r = rdma_cm::decode_header(pd);
    EXPECT_FALSE(r.has_value());
    return r ? E{} : r.error();
  };
  EXPECT_EQ(rdma_cm::decode_header({good.data(), 35}).error(), E::Short);
  EXPECT_EQ(error_of([](auto& pd) { pd[0] = 1; }), E::BadVersion);
  EXPECT_EQ(error_of([](auto& pd) { pd[1] = 0x50; }), E::BadIpVersion);
  EXPECT_EQ(error_of([](auto& pd) { pd[1] = 0x00; }), E::BadIpVersion);
  EXPECT_EQ(error_of([](auto& pd) { pd[4] = 1; }), E::BadIpv4Padding);
  EXPECT_EQ(error_of([](auto& pd) { pd[31] = 1; }), E::BadIpv4Padding);
  // The low nibble of byte 1 is reserved: Linux keeps it when it sets the version, and reads
  // only the high nibble.
  auto pd = good;
  pd[1] = 0x4f;
  auto r = rdma_cm::decode_header(pd);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->ip_version, 4);
  // IPv6 has no padding to check.
  pd = good;
  pd[1] = 0x60;
  pd[4] = 0x20;
  EXPECT_TRUE(rdma_cm::decode_header(pd).has_value());
  for (auto e : {E::Short, E::BadVersion, E::BadIpVersion, E::BadIpv4Padding})
    EXPECT_FALSE(rdma_cm::to_string(e).empty());
}
