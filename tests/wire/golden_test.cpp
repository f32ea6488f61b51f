// Golden MADs written by hand from the CM message layout tables (IBTA Vol 1 ch. 12.6), not
// produced by the encoder: one per message type. Each MAD is 256 zero bytes except the runs listed,
// each at its offset with the field it holds; sub-byte fields show their bits (IBTA numbering: bit
// 0 is the most significant bit). encode() of the typed message must give exactly these bytes, and
// decode() of the bytes exactly the typed message.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "ibcm/wire/mad.h"
#include "ibcm/wire/print.h"
#include "wire/testkit.h"

using namespace ibcm::wire;
using ibcm::wire::testkit::byte_diff;

namespace {

// A run of bytes at an offset inside the MAD.
struct Run {
  size_t at;
  std::vector<uint8_t> bytes;
};

constexpr size_t cm(size_t offset) {
  return kMadHeaderSize + offset;
}  // CM data -> MAD offset

// Zero bytes, then the runs; the runs must not overlap (checked, so a typo cannot hide).
MadBytes image(std::initializer_list<Run> runs) {
  MadBytes out{};
  std::vector<bool> used(kMadSize);
  for (const auto& r : runs) {
    EXPECT_LE(r.at + r.bytes.size(), kMadSize) << "run at " << r.at;
    for (size_t i = 0; i < r.bytes.size() && r.at + i < kMadSize; ++i) {
      EXPECT_FALSE(used[r.at + i]) << "runs overlap at MAD byte " << r.at + i;
      used[r.at + i] = true;
      out[r.at + i] = r.bytes[i];
    }
  }
  return out;
}

std::vector<uint8_t> gid(std::initializer_list<uint8_t> tail) {  // "::" then the tail
  std::vector<uint8_t> g(16, 0);
  std::copy(tail.begin(), tail.end(), g.end() - static_cast<long>(tail.size()));
  return g;
}
std::vector<uint8_t> fe80(uint8_t last) {  // fe80::last
  auto g = gid({last});
  g[0] = 0xfe;
  g[1] = 0x80;
  return g;
}
Gid gid_of(const std::vector<uint8_t>& v) {
  Gid g{};
  std::copy(v.begin(), v.end(), g.begin());
  return g;
}

void expect_golden(const Mad& mad, const MadBytes& golden) {
  EXPECT_EQ(byte_diff(encode(mad), golden), "") << "encode() differs from the golden bytes";
  auto back = decode(golden);
  ASSERT_TRUE(back.has_value()) << to_string(back.error().error);
  EXPECT_EQ(*back, mad) << "decode() differs from the golden fields:\n  got  " << to_text(*back)
                        << "\n  want " << to_text(mad);
}

// The common header of a CM Send with this AttributeID and TID 0x0123456789abcdef.
Run send_header(uint8_t attr_low) {
  return {0,
          {
              0x01, 0x07, 0x02, 0x03,                          // 0: BaseVersion 1, MgmtClass 7,
                                                               //    ClassVersion 2, Method Send
              0x00, 0x00, 0x00, 0x00,                          // 4: Status, ClassSpecific
              0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,  // 8: TransactionID
              0x00, attr_low, 0x00, 0x00,                      // 16: AttributeID, reserved
              0x00, 0x00, 0x00, 0x00,                          // 20: AttributeModifier
          }};
}
constexpr uint64_t kTid = 0x0123456789abcdef;

TEST(Golden, MadHeaderWithEveryFieldSet) {
  // A DREP whose header has every field non-zero where the spec allows it.
  const MadBytes golden = image({
      {0, {0x01, 0x07, 0x02, 0x03}},                          // Base 1, Class 7, Version 2, Send
      {4, {0x00, 0x1c}},                                      // Status: invalid attribute value
      {6, {0xbe, 0xef}},                                      // ClassSpecific
      {8, {0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10}},  // TransactionID
      {16, {0x00, 0x16}},                                     // AttributeID DREP
      {20, {0x80, 0x00, 0x00, 0x01}},                         // AttributeModifier
      {cm(0), {0x00, 0x00, 0x00, 0x01}},                      // LocalCommID
      {cm(4), {0x00, 0x00, 0x00, 0x02}},                      // RemoteCommID
  });
  Mad mad;
  mad.header.status = 0x001c;
  mad.header.class_specific = 0xbeef;
  mad.header.transaction_id = 0xfedcba9876543210;
  mad.header.attribute_id = 0x0016;
  mad.header.attribute_modifier = 0x80000001;
  Drep d;
  d.local_comm_id = 1;
  d.remote_comm_id = 2;
  mad.message = d;
  expect_golden(mad, golden);
}

TEST(Golden, Req) {
  const auto local_gid = fe80(0x01), remote_gid = gid({0xff, 0xff, 198, 51, 100, 2});
  const auto alt_local = fe80(0x02), alt_remote = fe80(0x03);
  const MadBytes golden = image({
      send_header(0x10),
      {cm(0), {0x11, 0x22, 0x33, 0x44}},                           // LocalCommID
      {cm(5), {0x0a, 0x0b, 0x0c}},                                 // VendorID (byte 4 reserved)
      {cm(8), {0, 0, 0, 0, 0x01, 0x06, 0x1c, 0x06}},               // ServiceID (rdma_cm TCP 7174)
      {cm(16), {0x00, 0x02, 0xc9, 0x03, 0x00, 0xab, 0xcd, 0xef}},  // LocalCAGUID
      {cm(28), {0x12, 0x34, 0x56, 0x78}},                          // LocalQKey (24-27 reserved)
      {cm(32), {0x00, 0x01, 0x23}},                                // LocalQPN
      {cm(35), {0x04}},                                            // ResponderResources
      {cm(36), {0xab, 0xcd, 0xef}},                                // LocalEECN
      {cm(39), {0x08}},                                            // InitiatorDepth
      {cm(40), {0x12, 0x34, 0x56}},                                // RemoteEECN
      {cm(43), {0xa3}},  // 10100 01 1: RemoteCMResponseTimeout 20, TransportServiceType 1, E2E 1
      {cm(44), {0x42, 0x42, 0x42}},  // StartingPSN
      {cm(47), {0x95}},              // 10010 101: LocalCMResponseTimeout 18, RetryCount 5
      {cm(48), {0xff, 0xff}},        // PartitionKey
      {cm(50), {0x3e}},        // 0011 1 110: PathPacketPayloadMTU 3, RDCExists, RNRRetryCount 6
      {cm(51), {0xf1}},        // 1111 0 001: MaxCMRetries 15, SRQ 0, ExtendedTransportType 1
      {cm(52), {0x01, 0x02}},  // PrimaryLocalPortLID
      {cm(54), {0x03, 0x04}},  // PrimaryRemotePortLID
      {cm(56), local_gid},     // PrimaryLocalPortGID fe80::1
      {cm(72), remote_gid},    // PrimaryRemotePortGID ::ffff:198.51.100.2
      // 88..91: PrimaryFlowLabel 0xabcde (20 bits), 6 reserved, PrimaryPacketRate 0x2a (6 bits):
      // 1010 1011 | 1100 1101 | 1110 0000 | 00 101010
      {cm(88), {0xab, 0xcd, 0xe0, 0x2a}},
      {cm(92), {0x20}},        // PrimaryTrafficClass
      {cm(93), {0x40}},        // PrimaryHopLimit
      {cm(94), {0x98}},        // 1001 1 000: PrimarySL 9, PrimarySubnetLocal 1
      {cm(95), {0x98}},        // 10011 000: PrimaryLocalACKTimeout 19
      {cm(96), {0x05, 0x06}},  // AlternateLocalPortLID
      {cm(98), {0x07, 0x08}},  // AlternateRemotePortLID
      {cm(100), alt_local},    // AlternateLocalPortGID fe80::2
      {cm(116), alt_remote},   // AlternateRemotePortGID fe80::3
      // 132..135: AlternateFlowLabel 0x12345, 6 reserved, AlternatePacketRate 0x3f:
      // 0001 0010 | 0011 0100 | 0101 0000 | 00 111111
      {cm(132), {0x12, 0x34, 0x50, 0x3f}},
      {cm(136), {0x88}},                // AlternateTrafficClass
      {cm(137), {0x01}},                // AlternateHopLimit
      {cm(138), {0xf0}},                // 1111 0 000: AlternateSL 15, AlternateSubnetLocal 0
      {cm(139), {0xfc}},                // 11111 1 00: AlternateLocalACKTimeout 31, SAPSupported 1
      {cm(140), {'i', 'b', 'c', 'm'}},  // PrivateData (92 bytes) ...
      {cm(231), {0x5a}},                // ... its last byte
  });
  Req r;
  r.local_comm_id = 0x11223344;
  r.vendor_id = 0x0a0b0c;
  r.service_id = 0x0000000001061c06;
  r.local_ca_guid = 0x0002c90300abcdef;
  r.local_qkey = 0x12345678;
  r.local_qpn = 0x000123;
  r.responder_resources = 4;
  r.local_eecn = 0xabcdef;
  r.initiator_depth = 8;
  r.remote_eecn = 0x123456;
  r.remote_cm_response_timeout = 20;
  r.transport_service_type = TransportType::UC;
  r.end_to_end_flow_control = true;
  r.starting_psn = 0x424242;
  r.local_cm_response_timeout = 18;
  r.retry_count = 5;
  r.partition_key = 0xffff;
  r.path_mtu = Mtu::Mtu1024;
  r.rdc_exists = true;
  r.rnr_retry_count = 6;
  r.max_cm_retries = 15;
  r.srq = false;
  r.extended_transport_type = ExtendedTransport::XRC;
  r.primary = {.local_lid = 0x0102,
               .remote_lid = 0x0304,
               .local_gid = gid_of(local_gid),
               .remote_gid = gid_of(remote_gid),
               .flow_label = 0xabcde,
               .packet_rate = 0x2a,
               .traffic_class = 0x20,
               .hop_limit = 0x40,
               .sl = 9,
               .subnet_local = true,
               .local_ack_timeout = 19};
  r.alternate = {.local_lid = 0x0506,
                 .remote_lid = 0x0708,
                 .local_gid = gid_of(alt_local),
                 .remote_gid = gid_of(alt_remote),
                 .flow_label = 0x12345,
                 .packet_rate = 0x3f,
                 .traffic_class = 0x88,
                 .hop_limit = 0x01,
                 .sl = 15,
                 .subnet_local = false,
                 .local_ack_timeout = 31};
  r.sap_supported = true;
  r.private_data[0] = 'i';
  r.private_data[1] = 'b';
  r.private_data[2] = 'c';
  r.private_data[3] = 'm';
  r.private_data[91] = 0x5a;
  expect_golden(make_mad(r, kTid), golden);
}

TEST(Golden, Mra) {
  const MadBytes golden = image({
      send_header(0x11),
      {cm(0), {0xde, 0xad, 0xbe, 0xef}},  // LocalCommID
      {cm(4), {0x01, 0x02, 0x03, 0x04}},  // RemoteCommID
      {cm(8), {0x40}},                    // 01 000000: MessageMRAed 1 (REP)
      {cm(9), {0xc0}},                    // 11000 000: ServiceTimeout 24
      {cm(10), {0xaa}},                   // PrivateData (222 bytes) ...
      {cm(231), {0xbb}},                  // ... its last byte
  });
  Mra m;
  m.local_comm_id = 0xdeadbeef;
  m.remote_comm_id = 0x01020304;
  m.message_mraed = MsgRef::Rep;
  m.service_timeout = 24;
  m.private_data.front() = 0xaa;
  m.private_data.back() = 0xbb;
  expect_golden(make_mad(m, kTid), golden);
}

TEST(Golden, Rej) {
  const MadBytes golden = image({
      send_header(0x12),
      {cm(0), {0x0a, 0x0b, 0x0c, 0x0d}},  // LocalCommID
      {cm(4), {0x11, 0x22, 0x33, 0x44}},  // RemoteCommID
      {cm(8), {0x80}},                    // 10 000000: MessageRejected 2 (other)
      {cm(9), {0x10}},                    // 0001000 0: RejectedInfoLength 8
      {cm(10), {0x00, 0x04}},             // Reason 4 (timeout)
      {cm(12), {0x00, 0x02, 0xc9, 0x03, 0x00, 0xab, 0xcd, 0xef}},  // ARI: the CA GUID ...
      {cm(83), {0x77}},                                            // ... ARI's last byte (72 bytes)
      {cm(84), {0x01}},                                            // PrivateData (148 bytes) ...
      {cm(231), {0x02}},                                           // ... its last byte
  });
  Rej r;
  r.local_comm_id = 0x0a0b0c0d;
  r.remote_comm_id = 0x11223344;
  r.message_rejected = MsgRef::Other;
  r.rejected_info_length = 8;
  r.reason = RejReason::Timeout;
  const uint8_t guid[] = {0x00, 0x02, 0xc9, 0x03, 0x00, 0xab, 0xcd, 0xef};
  std::copy(std::begin(guid), std::end(guid), r.ari.begin());
  r.ari.back() = 0x77;
  r.private_data.front() = 0x01;
  r.private_data.back() = 0x02;
  expect_golden(make_mad(r, kTid), golden);
}

TEST(Golden, Rep) {
  const MadBytes golden = image({
      send_header(0x13),
      {cm(0), {0x55, 0x66, 0x77, 0x88}},  // LocalCommID
      {cm(4), {0x11, 0x22, 0x33, 0x44}},  // RemoteCommID
      {cm(8), {0xca, 0xfe, 0xba, 0xbe}},  // LocalQKey
      {cm(12), {0x00, 0x04, 0x56}},       // LocalQPN
      {cm(15), {0x0a}},                   // VendorID high byte
      {cm(16), {0x00, 0x07, 0x89}},       // LocalEECN
      {cm(19), {0x0b}},                   // VendorID middle byte
      {cm(20), {0xab, 0xcd, 0xef}},       // StartingPSN
      {cm(23), {0x0c}},                   // VendorID low byte
      {cm(24), {0x10}},                   // ResponderResources
      {cm(25), {0x20}},                   // InitiatorDepth
      {cm(26), {0x8d}},  // 10001 10 1: TargetACKDelay 17, FailoverAccepted 2, E2E 1
      {cm(27), {0xb0}},  // 101 1 0000: RNRRetryCount 5, SRQ 1
      {cm(28), {0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56}},  // LocalCAGUID
      {cm(36), {0x77}},                                            // PrivateData (196 bytes) ...
      {cm(231), {0x88}},                                           // ... its last byte
  });
  Rep r;
  r.local_comm_id = 0x55667788;
  r.remote_comm_id = 0x11223344;
  r.local_qkey = 0xcafebabe;
  r.local_qpn = 0x000456;
  r.vendor_id_high = 0x0a;
  r.local_eecn = 0x000789;
  r.vendor_id_mid = 0x0b;
  r.starting_psn = 0xabcdef;
  r.vendor_id_low = 0x0c;
  r.responder_resources = 0x10;
  r.initiator_depth = 0x20;
  r.target_ack_delay = 17;
  r.failover_accepted = 2;
  r.end_to_end_flow_control = true;
  r.rnr_retry_count = 5;
  r.srq = true;
  r.local_ca_guid = 0x505400fffe123456;
  r.private_data.front() = 0x77;
  r.private_data.back() = 0x88;
  expect_golden(make_mad(r, kTid), golden);
}

TEST(Golden, Rtu) {
  const MadBytes golden = image({
      send_header(0x14),
      {cm(0), {0x01, 0x02, 0x03, 0x04}},  // LocalCommID
      {cm(4), {0x05, 0x06, 0x07, 0x08}},  // RemoteCommID
      {cm(8), {0xc0}},                    // PrivateData (224 bytes) ...
      {cm(231), {0xde}},                  // ... its last byte
  });
  Rtu r;
  r.local_comm_id = 0x01020304;
  r.remote_comm_id = 0x05060708;
  r.private_data.front() = 0xc0;
  r.private_data.back() = 0xde;
  expect_golden(make_mad(r, kTid), golden);
}

TEST(Golden, Dreq) {
  const MadBytes golden = image({
      send_header(0x15),
      {cm(0), {0x89, 0xab, 0xcd, 0xef}},  // LocalCommID
      {cm(4), {0x01, 0x23, 0x45, 0x67}},  // RemoteCommID
      {cm(8), {0xfe, 0xdc, 0xba}},        // RemoteQPN/EECN (byte 11 reserved)
      {cm(12), {0x99}},                   // PrivateData (220 bytes) ...
      {cm(231), {0x11}},                  // ... its last byte
  });
  Dreq d;
  d.local_comm_id = 0x89abcdef;
  d.remote_comm_id = 0x01234567;
  d.remote_qpn = 0xfedcba;
  d.private_data.front() = 0x99;
  d.private_data.back() = 0x11;
  expect_golden(make_mad(d, kTid), golden);
}

TEST(Golden, Drep) {
  const MadBytes golden = image({
      send_header(0x16),
      {cm(0), {0x01, 0x23, 0x45, 0x67}},  // LocalCommID
      {cm(4), {0x89, 0xab, 0xcd, 0xef}},  // RemoteCommID
      {cm(8), {0x42}},                    // PrivateData (224 bytes) ...
      {cm(231), {0x24}},                  // ... its last byte
  });
  Drep d;
  d.local_comm_id = 0x01234567;
  d.remote_comm_id = 0x89abcdef;
  d.private_data.front() = 0x42;
  d.private_data.back() = 0x24;
  expect_golden(make_mad(d, kTid), golden);
}

TEST(Golden, SidrReq) {
  const MadBytes golden = image({
      send_header(0x17),
      {cm(0), {0x00, 0xc0, 0xff, 0xee}},              // RequestID
      {cm(4), {0x80, 0x01}},                          // PartitionKey (6-7 reserved)
      {cm(8), {0, 0, 0, 0, 0x01, 0x11, 0x04, 0x57}},  // ServiceID (rdma_cm UDP 1111)
      {cm(16), {0x00, 0x40}},                         // PrivateData (216 bytes) ...
      {cm(231), {0x33}},                              // ... its last byte
  });
  SidrReq s;
  s.request_id = 0x00c0ffee;
  s.partition_key = 0x8001;
  s.service_id = 0x0000000001110457;
  s.private_data[0] = 0x00;
  s.private_data[1] = 0x40;
  s.private_data.back() = 0x33;
  expect_golden(make_mad(s, kTid), golden);
}

TEST(Golden, SidrRep) {
  const auto info = fe80(0x07);
  const MadBytes golden = image({
      send_header(0x18),
      {cm(0), {0x00, 0xc0, 0xff, 0xee}},               // RequestID
      {cm(4), {0x04}},                                 // Status 4 (redirect)
      {cm(5), {0x10}},                                 // AdditionalInformationLength 16
      {cm(8), {0x00, 0xab, 0xcd}},                     // QPN (byte 11 reserved)
      {cm(12), {0, 0, 0, 0, 0x01, 0x11, 0x04, 0x57}},  // ServiceID
      {cm(20), {0xfe, 0xed, 0xf0, 0x0d}},              // QKey
      {cm(24), info},                                  // AdditionalInformation: a GID ...
      {cm(95), {0x66}},                                // ... its last byte (72 bytes)
      {cm(96), {0x5a}},                                // PrivateData (136 bytes) ...
      {cm(231), {0xa5}},                               // ... its last byte
  });
  SidrRep s;
  s.request_id = 0x00c0ffee;
  s.status = SidrStatus::Redirect;
  s.additional_information_length = 16;
  s.qpn = 0x00abcd;
  s.service_id = 0x0000000001110457;
  s.qkey = 0xfeedf00d;
  std::copy(info.begin(), info.end(), s.additional_information.begin());
  s.additional_information.back() = 0x66;
  s.private_data.front() = 0x5a;
  s.private_data.back() = 0xa5;
  expect_golden(make_mad(s, kTid), golden);
}

TEST(Golden, Lap) {
  const auto alt_local = fe80(0x0a), alt_remote = fe80(0x0b);
  const MadBytes golden = image({
      send_header(0x19),
      {cm(0), {0x11, 0x11, 0x11, 0x11}},  // LocalCommID
      {cm(4), {0x22, 0x22, 0x22, 0x22}},  // RemoteCommID (8-11 reserved)
      {cm(12), {0x33, 0x33, 0x33}},       // RemoteQPN/EECN
      {cm(15), {0xa8}},                   // 10101 000: RemoteCMResponseTimeout 21 (16-19 reserved)
      {cm(20), {0x0a, 0x0b}},             // AlternateLocalPortLID
      {cm(22), {0x0c, 0x0d}},             // AlternateRemotePortLID
      {cm(24), alt_local},                // AlternateLocalPortGID fe80::a
      {cm(40), alt_remote},               // AlternateRemotePortGID fe80::b
      // 56..58: AlternateFlowLabel 0xfedcb (20 bits), 4 reserved:
      // 1111 1110 | 1101 1100 | 1011 0000
      {cm(56), {0xfe, 0xdc, 0xb0}},
      {cm(59), {0x60}},   // AlternateTrafficClass
      {cm(60), {0xff}},   // AlternateHopLimit
      {cm(61), {0x07}},   // 00 000111: AlternatePacketRate 7
      {cm(62), {0x38}},   // 0011 1 000: AlternateSL 3, AlternateSubnetLocal 1
      {cm(63), {0x70}},   // 01110 000: AlternateLocalACKTimeout 14
      {cm(64), {0x01}},   // PrivateData (168 bytes) ...
      {cm(231), {0xff}},  // ... its last byte
  });
  Lap l;
  l.local_comm_id = 0x11111111;
  l.remote_comm_id = 0x22222222;
  l.remote_qpn = 0x333333;
  l.remote_cm_response_timeout = 21;
  l.alternate = {.local_lid = 0x0a0b,
                 .remote_lid = 0x0c0d,
                 .local_gid = gid_of(alt_local),
                 .remote_gid = gid_of(alt_remote),
                 .flow_label = 0xfedcb,
                 .packet_rate = 7,
                 .traffic_class = 0x60,
                 .hop_limit = 0xff,
                 .sl = 3,
                 .subnet_local = true,
                 .local_ack_timeout = 14};
  l.private_data.front() = 0x01;
  l.private_data.back() = 0xff;
  expect_golden(make_mad(l, kTid), golden);
}

TEST(Golden, Apr) {
  const MadBytes golden = image({
      send_header(0x1a),
      {cm(0), {0x44, 0x44, 0x44, 0x44}},   // LocalCommID
      {cm(4), {0x55, 0x55, 0x55, 0x55}},   // RemoteCommID
      {cm(8), {0x04}},                     // AdditionalInformationLength 4
      {cm(9), {0x09}},                     // APStatus 9 (invalid flow label) (10-11 reserved)
      {cm(12), {0x00, 0x0f, 0xed, 0xcb}},  // AdditionalInformation (72 bytes) ...
      {cm(83), {0xee}},                    // ... its last byte
      {cm(84), {0x12}},                    // PrivateData (148 bytes) ...
      {cm(231), {0x34}},                   // ... its last byte
  });
  Apr a;
  a.local_comm_id = 0x44444444;
  a.remote_comm_id = 0x55555555;
  a.additional_information_length = 4;
  a.ap_status = ApStatus::InvalidFlowLabel;
  a.additional_information[1] = 0x0f;
  a.additional_information[2] = 0xed;
  a.additional_information[3] = 0xcb;
  a.additional_information.back() = 0xee;
  a.private_data.front() = 0x12;
  a.private_data.back() = 0x34;
  expect_golden(make_mad(a, kTid), golden);
}

// ClassPortInfo as IBTA 13.4.8.1 lays it out; the spec notes' combined "RedirectTC/SL/FL",
// "RedirectQP" and "TrapHL/QP" words split as TC 8 | SL 4 | FL 20, reserved 8 | QP 24 and
// HL 8 | QP 24.
TEST(Golden, ClassPortInfo) {
  const auto redirect_gid = fe80(0x0c), trap_gid = fe80(0x0d);
  const MadBytes golden = image({
      {0, {0x01, 0x07, 0x02, 0x01}},  // Base 1, Class 7, Version 2, Method Get (make_mad's)
      {8, {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}},  // TransactionID
      {16, {0x00, 0x01}},                                     // AttributeID ClassPortInfo
      {cm(0), {0x01}},                                        // BaseVersion
      {cm(1), {0x02}},                                        // ClassVersion
      {cm(2), {0x01, 0x02}},                                  // CapabilityMask
      // 4..7: CapabilityMask2 0x1234567 (27 bits), RespTimeValue 20 (5 bits):
      // (0x1234567 << 5) | 0x14 = 0x2468acf4
      {cm(4), {0x24, 0x68, 0xac, 0xf4}},
      {cm(8), redirect_gid},  // RedirectGID fe80::c
      {cm(24), {0x12}},       // RedirectTC
      // 25..27: RedirectSL 5 (4 bits), RedirectFL 0xabcde (20 bits): 0101 1010 | 1011 1100 | 1101
      // 1110
      {cm(25), {0x5a, 0xbc, 0xde}},
      {cm(28), {0x03, 0x04}},              // RedirectLID
      {cm(30), {0xff, 0xff}},              // RedirectPKey
      {cm(33), {0x00, 0x00, 0x01}},        // RedirectQP (byte 32 reserved)
      {cm(36), {0x80, 0x01, 0x00, 0x00}},  // RedirectQKey
      {cm(40), trap_gid},                  // TrapGID fe80::d
      {cm(56), {0x34}},                    // TrapTC
      {cm(57), {0x70, 0x00, 0x01}},        // 0111 0000 | 0 | 1: TrapSL 7, TrapFL 1
      {cm(60), {0x05, 0x06}},              // TrapLID
      {cm(62), {0x7f, 0xff}},              // TrapPKey
      {cm(64), {0x40}},                    // TrapHL
      {cm(65), {0x00, 0x00, 0x02}},        // TrapQP
      {cm(68), {0x12, 0x34, 0x56, 0x78}},  // TrapQKey
  });
  ClassPortInfo c;
  c.base_version = 1;
  c.class_version = 2;
  c.capability_mask = 0x0102;
  c.capability_mask2 = 0x1234567;
  c.resp_time_value = 20;
  c.redirect_gid = gid_of(redirect_gid);
  c.redirect_tc = 0x12;
  c.redirect_sl = 5;
  c.redirect_fl = 0xabcde;
  c.redirect_lid = 0x0304;
  c.redirect_pkey = 0xffff;
  c.redirect_qp = 1;
  c.redirect_qkey = 0x80010000;
  c.trap_gid = gid_of(trap_gid);
  c.trap_tc = 0x34;
  c.trap_sl = 7;
  c.trap_fl = 1;
  c.trap_lid = 0x0506;
  c.trap_pkey = 0x7fff;
  c.trap_hl = 0x40;
  c.trap_qp = 2;
  c.trap_qkey = 0x12345678;
  expect_golden(make_mad(c, kTid), golden);
}

// Set bits in every reserved place of a golden REQ: the spec's gaps (byte 4, 24-27, the six bits
// before each packet rate, the bits after each SubnetLocal, LocalACKTimeout and SAPSupported, and
// the header's bytes 18-19) change nothing on decode.
TEST(Golden, ReqReservedBitsAreIgnored) {
  Req r;
  r.local_comm_id = 1;
  const MadBytes clean = encode(make_mad(r, kTid));
  MadBytes noisy = clean;
  for (auto [at, bits] : std::initializer_list<std::pair<size_t, uint8_t>>{
           {18, 0xff},
           {19, 0xff},  // header reserved
           {cm(4), 0xff},
           {cm(24), 0xff},
           {cm(25), 0xff},
           {cm(26), 0xff},
           {cm(27), 0xff},
           {cm(90), 0x0f},
           {cm(91), 0xc0},  // around PrimaryPacketRate
           {cm(94), 0x07},
           {cm(95), 0x07},  // after PrimarySubnetLocal / LocalACKTimeout
           {cm(134), 0x0f},
           {cm(135), 0xc0},  // around AlternatePacketRate
           {cm(138), 0x07},
           {cm(139), 0x03},  // after AlternateSubnetLocal / SAPSupported
       })
    noisy[at] |= bits;
  auto back = decode(noisy);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(std::get<Req>(back->message), r);
  EXPECT_EQ(byte_diff(encode(*back), clean), "");
}

}  // namespace
