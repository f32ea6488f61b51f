// RoCEv2 framing: build/parse round trips for IPv4 and IPv6, the ICRC against an independent
// reference and against Linux, and parsing of damaged or foreign packets.
#include "ibcm/wire/roce.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "ibcm/wire/mad.h"
#include "ibcm/wire/pcap.h"

using namespace ibcm::wire;

namespace {

constexpr size_t kEth = roce::kEthernetSize;

// Bit-at-a-time CRC-32 (reflected 0x04C11DB7), written from the definition rather than shared
// with the table-driven code under test.
uint32_t reference_crc32(const std::vector<uint8_t>& bytes) {
  uint32_t crc = 0xffffffffu;
  for (uint8_t b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ ((crc & 1) ? 0xEDB88320u : 0);
  }
  return ~crc;
}

// The ICRC as the RoCEv2 annex (IBTA Annex A17) words it, over an IP packet without its ICRC
// (docs/wire.md, "RoCEv2 framing and ICRC").
uint32_t reference_icrc(std::span<const uint8_t> ip) {
  std::vector<uint8_t> m(8 + ip.size(), 0xff);
  std::copy(ip.begin(), ip.end(), m.begin() + 8);
  uint8_t* h = m.data() + 8;
  size_t ip_len;
  if ((h[0] >> 4) == 4) {
    ip_len = 20;
    h[1] = 0xff;           // TOS
    h[8] = 0xff;           // TTL
    h[10] = h[11] = 0xff;  // header checksum
  } else {
    ip_len = 40;
    h[0] |= 0x0f;        // traffic class, high nibble
    h[1] = 0xff;         // traffic class low nibble + flow label
    h[2] = h[3] = 0xff;  // flow label
    h[7] = 0xff;         // hop limit
  }
  h[ip_len + 6] = h[ip_len + 7] = 0xff;  // UDP checksum
  h[ip_len + 8 + 4] = 0xff;              // BTH byte 4
  return reference_crc32(m);
}

Gid v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  const uint8_t addr[4] = {a, b, c, d};
  return roce::ipv4_mapped_gid(addr);
}

const Gid kV6Src{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const Gid kV6Dst{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

roce::Datagram sample(bool ipv6, std::span<const uint8_t> payload) {
  roce::Datagram d;
  d.src_gid = ipv6 ? kV6Src : v4(198, 51, 100, 1);
  d.dst_gid = ipv6 ? kV6Dst : v4(198, 51, 100, 2);
  d.src_port = 49152;
  d.traffic_class = 0x68;
  d.flow_label = ipv6 ? 0xabcde : 0;
  d.hop_limit = 17;
  d.ip_id = ipv6 ? 0 : 0x1234;
  d.bth.solicited = true;
  d.bth.tver = 0;
  d.bth.pkey = 0x8001;
  d.bth.dest_qp = 0x00abcd;
  d.bth.ack_req = false;
  d.bth.psn = 0x00fedc;
  d.deth.qkey = 0x11223344;
  d.deth.src_qp = 0x000777;
  d.payload = payload;
  return d;
}

std::vector<uint8_t> frame_of(const roce::Datagram& d) {
  std::vector<uint8_t> buf(roce::kMaxFrameSize + 16);
  size_t n = roce::build_ethernet_frame(d, buf);
  buf.resize(n);
  return buf;
}

MadBytes some_mad() {
  Dreq dreq;
  dreq.local_comm_id = 0x01020304;
  dreq.remote_comm_id = 0x05060708;
  dreq.remote_qpn = 0x123;
  dreq.private_data[219] = 0x5a;
  return encode(make_mad(dreq, 0x1122334455667788));
}

void expect_same(const roce::Datagram& a, const roce::Datagram& b) {
  EXPECT_EQ(a.src_gid, b.src_gid);
  EXPECT_EQ(a.dst_gid, b.dst_gid);
  EXPECT_EQ(a.src_port, b.src_port);
  EXPECT_EQ(a.dst_port, b.dst_port);
  EXPECT_EQ(a.traffic_class, b.traffic_class);
  EXPECT_EQ(a.flow_label, b.flow_label);
  EXPECT_EQ(a.hop_limit, b.hop_limit);
  EXPECT_EQ(a.ip_id, b.ip_id);
  EXPECT_EQ(a.bth.opcode, b.bth.opcode);
  EXPECT_EQ(a.bth.solicited, b.bth.solicited);
  EXPECT_EQ(a.bth.mig_req, b.bth.mig_req);
  EXPECT_EQ(a.bth.tver, b.bth.tver);
  EXPECT_EQ(a.bth.pkey, b.bth.pkey);
  EXPECT_EQ(a.bth.fecn, b.bth.fecn);
  EXPECT_EQ(a.bth.becn, b.bth.becn);
  EXPECT_EQ(a.bth.dest_qp, b.bth.dest_qp);
  EXPECT_EQ(a.bth.ack_req, b.bth.ack_req);
  EXPECT_EQ(a.bth.psn, b.bth.psn);
  EXPECT_EQ(a.deth.qkey, b.deth.qkey);
  EXPECT_EQ(a.deth.src_qp, b.deth.src_qp);
  ASSERT_EQ(a.payload.size(), b.payload.size());
  EXPECT_TRUE(std::equal(a.payload.begin(), a.payload.end(), b.payload.begin()));
}

// Bits of the IP packet that the ICRC leaves out (they may change in flight).
bool masked(bool ipv6, size_t i, uint8_t bit) {
  size_t ip_len = ipv6 ? 40 : 20;
  if (ipv6 && i == 0) return bit & 0x0f;
  if (ipv6 ? (i >= 1 && i <= 3) || i == 7 : i == 1 || i == 8 || i == 10 || i == 11) return true;
  return i == ip_len + 6 || i == ip_len + 7 || i == ip_len + 8 + 4;
}

}  // namespace

TEST(RoceIcrc, ReferenceCrcHasTheStandardCheckValue) {
  const std::string s = "123456789";
  EXPECT_EQ(reference_crc32({s.begin(), s.end()}), 0xCBF43926u);
}

TEST(RoceIcrc, MatchesLinuxOnEveryVectorFrameAndTheReference) {
  size_t frames = 0;
  for (const char* name :
       {"linux61-req-unanswered.pcap", "linux61-req-rep-rtu.pcap", "linux61-stale-answer.pcap"}) {
    auto recs = pcap::read_file(std::string(IBCM_VECTORS_DIR) + "/" + name);
    ASSERT_TRUE(recs.has_value()) << name;
    for (const auto& r : *recs) {
      ASSERT_GT(r.data.size(), kEth + roce::kIcrcSize);
      std::span<const uint8_t> ip(r.data.data() + kEth, r.data.size() - kEth - roce::kIcrcSize);
      const uint8_t* s = r.data.data() + r.data.size() - 4;
      uint32_t stored =
          uint32_t{s[0]} | uint32_t{s[1]} << 8 | uint32_t{s[2]} << 16 | uint32_t{s[3]} << 24;
      EXPECT_EQ(roce::icrc(ip), stored) << name;
      EXPECT_EQ(reference_icrc(ip), stored) << name;
      ++frames;
    }
  }
  EXPECT_EQ(frames, 29u);
}

// The ICRC is computed eight bytes at a time with a bytewise tail: every packet length from the
// bare headers to a MAD and more (each tail length, each start of the 8-byte steps), with random
// contents, gives what the bit-at-a-time reference gives.
TEST(RoceIcrc, EveryLengthAndTailMatchesTheBitwiseReference) {
  std::mt19937 rng(7);
  for (bool ipv6 : {false, true}) {
    const size_t headers = (ipv6 ? 40 : 20) + 8 + 12;
    for (size_t len = headers; len <= headers + 300; ++len) {
      std::vector<uint8_t> ip(len);
      for (auto& b : ip) b = static_cast<uint8_t>(rng());
      ip[0] = static_cast<uint8_t>((ipv6 ? 0x60 : 0x45) | (ip[0] & (ipv6 ? 0x0f : 0)));
      EXPECT_EQ(roce::icrc(ip), reference_icrc(ip)) << (ipv6 ? "IPv6 " : "IPv4 ") << len;
    }
  }
}

TEST(RoceIcrc, KnownAnswerOfLinuxsFirstReq) {
  // The first REQ in linux61-req-unanswered.pcap ends in 5e 90 f4 e4 (tshark: "Invariant CRC:
  // 0x5e90f4e4", i.e. the bytes in wire order); as a little-endian number that is 0xe4f4905e.
  auto recs = pcap::read_file(std::string(IBCM_VECTORS_DIR) + "/linux61-req-unanswered.pcap");
  ASSERT_TRUE(recs.has_value());
  auto p = roce::parse_ethernet_frame((*recs)[0].data);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->icrc, 0xe4f4905eu);
  EXPECT_EQ(p->icrc_computed, 0xe4f4905eu);
  EXPECT_TRUE(p->icrc_ok);
}

TEST(RoceIcrc, TooShortForTheHeadersIsZeroNotACrash) {
  std::vector<uint8_t> v4hdr(20 + 8 + 11, 0);
  v4hdr[0] = 0x45;
  EXPECT_EQ(roce::icrc(v4hdr), 0u);
  EXPECT_EQ(roce::icrc({}), 0u);
  std::vector<uint8_t> v5(100, 0x55);
  EXPECT_EQ(roce::icrc(v5), 0u);
}

class RoceRoundTrip : public ::testing::TestWithParam<bool> {};

TEST_P(RoceRoundTrip, BuildThenParseGivesBackEveryField) {
  const bool ipv6 = GetParam();
  auto mad = some_mad();
  auto d = sample(ipv6, mad);
  auto frame = frame_of(d);
  ASSERT_EQ(frame.size(), kEth + (ipv6 ? 40u : 20u) + 8 + 12 + 8 + 256 + 4);
  if (!ipv6) {
    EXPECT_EQ(frame.size(), roce::kMaxFrameSize - 20);
  }
  EXPECT_EQ(frame[12], ipv6 ? 0x86 : 0x08);
  EXPECT_EQ(frame[13], ipv6 ? 0xdd : 0x00);
  auto p = roce::parse_ethernet_frame(frame);
  ASSERT_TRUE(p.has_value()) << roce::to_string(p.error());
  EXPECT_TRUE(p->icrc_ok);
  EXPECT_EQ(p->icrc, reference_icrc({frame.data() + kEth, frame.size() - kEth - 4}));
  expect_same(p->dgram, d);
  // The same IP packet without the Ethernet header.
  std::vector<uint8_t> ip(roce::kMaxFrameSize);
  size_t n = roce::build_ip_packet(d, ip);
  ASSERT_EQ(n, frame.size() - kEth);
  EXPECT_TRUE(std::equal(ip.begin(), ip.begin() + n, frame.begin() + kEth));
  auto q = roce::parse_ip_packet({ip.data(), n});
  ASSERT_TRUE(q.has_value());
  expect_same(q->dgram, d);
}

TEST_P(RoceRoundTrip, PayloadsOfAnyLengthRoundTripThroughThePadCount) {
  const bool ipv6 = GetParam();
  std::vector<uint8_t> payload;
  for (size_t len = 0; len <= 9; ++len) {
    payload.push_back(static_cast<uint8_t>(0xa0 + len));
    auto d = sample(ipv6, {payload.data(), len});
    auto frame = frame_of(d);
    ASSERT_FALSE(frame.empty());
    EXPECT_EQ((frame.size() - kEth - (ipv6 ? 40 : 20) - 8 - 4) % 4, 0u) << len;
    auto p = roce::parse_ethernet_frame(frame);
    ASSERT_TRUE(p.has_value()) << len;
    EXPECT_TRUE(p->icrc_ok);
    EXPECT_EQ(p->dgram.bth.pad_count, (4 - len % 4) % 4);
    expect_same(p->dgram, d);
  }
}

TEST_P(RoceRoundTrip, FlippingAnyCoveredBitIsAnIcrcMismatchAndMaskedOnesAreNot) {
  const bool ipv6 = GetParam();
  auto mad = some_mad();
  auto frame = frame_of(sample(ipv6, mad));
  size_t checked = 0;
  for (size_t i = kEth; i < frame.size(); ++i) {
    for (uint8_t bit : {0x01, 0x80}) {
      auto bad = frame;
      bad[i] ^= bit;
      auto p = roce::parse_ethernet_frame(bad);
      if (!p) continue;  // the flip broke a header the parser checks
      ++checked;
      EXPECT_EQ(p->icrc_ok, masked(ipv6, i - kEth, bit))
          << "byte " << i - kEth << " bit " << int(bit);
    }
  }
  // Nearly every bit is covered: MAD, DETH, BTH, addresses, ports.
  EXPECT_GT(checked, 2 * (frame.size() - kEth) - 40);
}

TEST_P(RoceRoundTrip, EveryTruncationIsAnErrorAndNeverReadsPastTheEnd) {
  const bool ipv6 = GetParam();
  auto mad = some_mad();
  auto frame = frame_of(sample(ipv6, mad));
  for (size_t n = 0; n < frame.size(); ++n) {
    // An exact-size heap copy, so a read past the end is caught by ASan.
    std::vector<uint8_t> cut(frame.begin(), frame.begin() + n);
    auto p = roce::parse_ethernet_frame(cut);
    EXPECT_FALSE(p.has_value()) << n;
    if (n >= kEth) {
      std::vector<uint8_t> ip(frame.begin() + kEth, frame.begin() + n);
      EXPECT_FALSE(roce::parse_ip_packet(ip).has_value()) << n;
    }
  }
  // Trailing bytes beyond the IP length (Ethernet padding, an FCS) are not part of the packet.
  frame.insert(frame.end(), {0xde, 0xad, 0xbe, 0xef});
  auto p = roce::parse_ethernet_frame(frame);
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->icrc_ok);
  EXPECT_EQ(p->dgram.payload.size(), kMadSize);
}

TEST_P(RoceRoundTrip, OutputBufferTooSmallBuildsNothing) {
  const bool ipv6 = GetParam();
  auto mad = some_mad();
  auto d = sample(ipv6, mad);
  size_t need = frame_of(d).size();
  std::vector<uint8_t> buf(need - 1);
  EXPECT_EQ(roce::build_ethernet_frame(d, buf), 0u);
  EXPECT_EQ(roce::build_ip_packet(d, {buf.data(), need - kEth - 1}), 0u);
  EXPECT_EQ(roce::build_ethernet_frame(d, {buf.data(), 10}), 0u);
}

INSTANTIATE_TEST_SUITE_P(Ipv4AndIpv6, RoceRoundTrip, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "IPv6" : "IPv4"; });

TEST(RoceFraming, Ipv4HeaderIsWhatLinuxSends) {
  auto mad = some_mad();
  auto frame = frame_of(sample(false, mad));
  const uint8_t* ip = frame.data() + kEth;
  EXPECT_EQ(ip[0], 0x45);
  EXPECT_EQ(ip[1], 0x68);                                    // TOS
  EXPECT_EQ(ip[2] << 8 | ip[3], 20 + 8 + 12 + 8 + 256 + 4);  // total length
  EXPECT_EQ(ip[4] << 8 | ip[5], 0x1234);                     // identification
  EXPECT_EQ(ip[6] << 8 | ip[7], 0x4000);                     // don't fragment
  EXPECT_EQ(ip[8], 17);                                      // TTL
  EXPECT_EQ(ip[9], 17);                                      // UDP
  // A correct header checksum sums (one's complement) to 0xffff.
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += uint32_t{ip[i]} << 8 | ip[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  EXPECT_EQ(sum, 0xffffu);
  EXPECT_EQ(ip[20 + 2] << 8 | ip[20 + 3], roce::kUdpPort);
  EXPECT_EQ(ip[20 + 4] << 8 | ip[20 + 5], 8 + 12 + 8 + 256 + 4);  // UDP length
  EXPECT_EQ(ip[20 + 6] << 8 | ip[20 + 7], 0);                     // UDP checksum unused
  EXPECT_EQ(ip[28], roce::kOpUdSendOnly);
}

TEST(RoceFraming, Ipv6HeaderCarriesTrafficClassAndFlowLabel) {
  auto mad = some_mad();
  auto frame = frame_of(sample(true, mad));
  const uint8_t* ip = frame.data() + kEth;
  EXPECT_EQ(ip[0], 0x66);  // version 6, traffic class 0x68 high nibble
  EXPECT_EQ(ip[1], 0x8a);  // traffic class low nibble, flow label 0xabcde
  EXPECT_EQ(ip[2], 0xbc);
  EXPECT_EQ(ip[3], 0xde);
  EXPECT_EQ(ip[4] << 8 | ip[5], 8 + 12 + 8 + 256 + 4);  // payload length
  EXPECT_EQ(ip[6], 17);
  EXPECT_EQ(ip[7], 17);  // hop limit
}

TEST(RoceFraming, MixedAddressFamiliesMakeIpv6) {
  auto mad = some_mad();
  auto d = sample(false, mad);
  d.dst_gid = kV6Dst;
  auto frame = frame_of(d);
  auto p = roce::parse_ethernet_frame(frame);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(frame[kEth] >> 4, 6);
  EXPECT_EQ(p->dgram.src_gid, d.src_gid);
  EXPECT_TRUE(p->icrc_ok);
}

TEST(RoceFraming, Ipv4MappedGids) {
  Gid g = v4(10, 1, 2, 3);
  EXPECT_TRUE(roce::is_ipv4_mapped(g));
  EXPECT_EQ(g, (Gid{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3}));
  EXPECT_FALSE(roce::is_ipv4_mapped(kV6Src));
  g[10] = 0xfe;
  EXPECT_FALSE(roce::is_ipv4_mapped(g));
  Gid link_local{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
  EXPECT_FALSE(roce::is_ipv4_mapped(link_local));
}

TEST(RoceFraming, VlanTaggedFrameParses) {
  auto mad = some_mad();
  auto frame = frame_of(sample(false, mad));
  std::vector<uint8_t> tagged(frame.begin(), frame.begin() + 12);
  tagged.insert(tagged.end(), {0x81, 0x00, 0x00, 0x05});
  tagged.insert(tagged.end(), frame.begin() + 12, frame.end());
  auto p = roce::parse_ethernet_frame(tagged);
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->icrc_ok);
  EXPECT_EQ(p->dgram.payload.size(), kMadSize);
}

namespace {
roce::ParseError error_after(const std::function<void(std::vector<uint8_t>&)>& damage,
                             bool ipv6 = false) {
  static const MadBytes mad = some_mad();
  auto frame = frame_of(sample(ipv6, mad));
  damage(frame);
  auto p = roce::parse_ethernet_frame(frame);
  EXPECT_FALSE(p.has_value());
  return p ? roce::ParseError{} : p.error();
}
}  // namespace

TEST(RoceFraming, ForeignAndInconsistentPacketsAreNamedErrors) {
  using E = roce::ParseError;
  const size_t ip = kEth, udp = kEth + 20, bth = kEth + 28;
  EXPECT_EQ(error_after([](auto& f) { f[12] = 0x08, f[13] = 0x06; }), E::NotIp);  // ARP
  EXPECT_EQ(error_after([&](auto& f) { f[ip] = 0x65; }), E::NotIp);    // EtherType IPv4, version 6
  EXPECT_EQ(error_after([&](auto& f) { f[ip + 9] = 6; }), E::NotUdp);  // TCP
  EXPECT_EQ(error_after([&](auto& f) { f[ip] = 0x46; }), E::NotUdp);   // IPv4 options
  EXPECT_EQ(error_after([&](auto& f) { f[ip + 6] |= 0x20; }), E::NotUdp);      // more fragments
  EXPECT_EQ(error_after([&](auto& f) { f[ip + 7] = 1; }), E::NotUdp);          // fragment offset
  EXPECT_EQ(error_after([&](auto& f) { f[udp + 3] ^= 1; }), E::NotRoce);       // port 4790
  EXPECT_EQ(error_after([&](auto& f) { f[udp + 5] -= 4; }), E::BadLength);     // UDP length
  EXPECT_EQ(error_after([&](auto& f) { f[ip + 3] += 4; }), E::BadLength);      // beyond the buffer
  EXPECT_EQ(error_after([&](auto& f) { f[bth] = 0x04; }), E::NotUd);           // RC SEND only
  EXPECT_EQ(error_after([&](auto& f) { f[kEth + 6] = 6; }, true), E::NotUdp);  // IPv6 TCP
  EXPECT_EQ(error_after([&](auto& f) { f[kEth + 5] += 1; }, true), E::BadLength);
  for (auto e : {E::Truncated, E::NotIp, E::NotUdp, E::NotRoce, E::BadLength, E::NotUd})
    EXPECT_FALSE(roce::to_string(e).empty());
}
