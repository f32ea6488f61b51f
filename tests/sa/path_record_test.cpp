// The SA MAD and PathRecord codec against recorded SA answers (sa_vectors.h): every field where
// the spec puts it, the request byte for byte, table answers, round trips, and what a resolved
// record puts into a REQ.
#include "ibcm/sa/path_record.h"

#include <gtest/gtest.h>

#include <random>

#include "sa/sa_vectors.h"

using namespace ibcm;
using namespace ibcm::sa;
using namespace ibcm::sa::test;

namespace {

std::span<const uint8_t, kPathRecordSize> record_bytes(const wire::MadBytes& mad) {
  return std::span<const uint8_t, kPathRecordSize>(mad.data() + kSaHeaderSize, kPathRecordSize);
}

// The record of kPathGetResp, field by field, as the comment there says.
PathRecord opensm_record() {
  PathRecord r;
  r.dgid = kPeerGid;
  r.sgid = kOurGid;
  r.dlid = 5;
  r.slid = 3;
  r.reversible = true;
  r.pkey = 0xFFFF;
  r.mtu_selector = static_cast<uint8_t>(Selector::Exactly);
  r.mtu = 5;
  r.rate_selector = static_cast<uint8_t>(Selector::Exactly);
  r.rate = 16;
  r.packet_life_time_selector = static_cast<uint8_t>(Selector::Exactly);
  r.packet_life_time = 18;
  return r;
}

}  // namespace

TEST(SaPathRecord, TheRequestIsTheRecordedGetByteForByte) {
  // The MAD layer writes the agent's number into the upper TID bits; the rest is ours.
  EXPECT_EQ(encode_path_get(our_request(), kAgentTidHigh | 1), kPathGetRequest);
}

TEST(SaPathRecord, ComponentMaskHasServiceIdOnlyWhenAsked) {
  PathRequest q = our_request();
  EXPECT_EQ(component_mask(q), 0x380Fu);
  q.service_id.reset();
  EXPECT_EQ(component_mask(q), 0x380Cu);
  wire::MadBytes m = encode_path_get(q, 7);
  SaHeader h;
  ASSERT_FALSE(decode_header(m, h));
  EXPECT_EQ(h.component_mask, 0x380Cu);
  EXPECT_EQ(decode_path_record(record_bytes(m)).service_id, 0u);
}

// rdma_cm asks with QoSClass (IPv4: the type of service) or TClass (IPv6: the flow info's).
TEST(SaPathRecord, QosClassAndTClassAreAskedWhenGiven) {
  PathRequest q = our_request();
  q.qos_class = 0x0A5;
  EXPECT_EQ(component_mask(q), 0x780Fu);
  PathRecord asked = decode_path_record(record_bytes(encode_path_get(q, 7)));
  EXPECT_EQ(asked.qos_class, 0x0A5u);
  EXPECT_EQ(asked.traffic_class, 0u);
  q.qos_class.reset();
  q.traffic_class = 0x28;
  EXPECT_EQ(component_mask(q), 0x3C0Fu);
  asked = decode_path_record(record_bytes(encode_path_get(q, 7)));
  EXPECT_EQ(asked.traffic_class, 0x28u);
  EXPECT_EQ(asked.qos_class, 0u);
}

TEST(SaPathRecord, MaskBitsFollowTheTableOrder) {
  // 15.2.5.16: component i is field i of the record, ServiceID counting twice and bit 7 (a
  // reserved field) skipped. The mask constants and the field table must agree.
  const auto& f = wire::Schema<PathRecord>::fields;
  const uint64_t masks[] = {path_mask::kServiceId,
                            path_mask::kDgid,
                            path_mask::kSgid,
                            path_mask::kDlid,
                            path_mask::kSlid,
                            path_mask::kRawTraffic,
                            path_mask::kFlowLabel,
                            path_mask::kHopLimit,
                            path_mask::kTClass,
                            path_mask::kReversible,
                            path_mask::kNumbPath,
                            path_mask::kPKey,
                            path_mask::kQosClass,
                            path_mask::kSl,
                            path_mask::kMtuSelector,
                            path_mask::kMtu,
                            path_mask::kRateSelector,
                            path_mask::kRate,
                            path_mask::kPacketLifeTimeSelector,
                            path_mask::kPacketLifeTime,
                            path_mask::kPreference};
  ASSERT_EQ(std::size(masks), f.size());
  for (size_t i = 1; i < f.size(); ++i) {
    const unsigned bit = static_cast<unsigned>(i) + (i < 6 ? 1 : 2);
    EXPECT_EQ(masks[i], uint64_t{1} << bit) << f[i].name;
  }
}

TEST(SaPathRecord, DecodesOpenSmsGetResp) {
  SaHeader h;
  ASSERT_FALSE(decode_header(kPathGetResp, h));
  EXPECT_EQ(h.mad.method, 0x81);
  EXPECT_EQ(h.mad.status, 0);
  EXPECT_EQ(h.mad.transaction_id, kAgentTidHigh | 1);
  EXPECT_EQ(h.mad.attribute_id, kPathRecordAttr);
  EXPECT_EQ(h.attribute_offset, 8);
  EXPECT_EQ(h.sm_key, 0u);
  EXPECT_EQ(h.component_mask, 0x380Fu);
  EXPECT_EQ(decode_path_record(record_bytes(kPathGetResp)), opensm_record());
  auto records = decode_path_records(kPathGetResp);
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ(records->front(), opensm_record());
}

TEST(SaPathRecord, SpotChecksOfPackedFields) {
  // Fields that share bytes, each at its maximum alone: the bytes the spec's bit offsets give.
  auto bytes_of = [](auto set) {
    PathRecord r;
    set(r);
    std::array<uint8_t, kPathRecordSize> out{};
    encode(r, out);
    return out;
  };
  auto flow = bytes_of([](PathRecord& r) { r.flow_label = 0xFFFFF; });
  EXPECT_EQ(flow[44], 0x0F);
  EXPECT_EQ(flow[45], 0xFF);
  EXPECT_EQ(flow[46], 0xFF);
  EXPECT_EQ(flow[47], 0x00);
  EXPECT_EQ(bytes_of([](PathRecord& r) { r.raw_traffic = true; })[44], 0x80);
  EXPECT_EQ(bytes_of([](PathRecord& r) { r.numb_path = 0x7F; })[49], 0x7F);
  EXPECT_EQ(bytes_of([](PathRecord& r) { r.reversible = true; })[49], 0x80);
  auto qos = bytes_of([](PathRecord& r) { r.qos_class = 0xFFF; });
  EXPECT_EQ(qos[52], 0xFF);
  EXPECT_EQ(qos[53], 0xF0);
  EXPECT_EQ(bytes_of([](PathRecord& r) { r.sl = 0xF; })[53], 0x0F);
  EXPECT_EQ(bytes_of([](PathRecord& r) { r.mtu_selector = 3; })[54], 0xC0);
  EXPECT_EQ(bytes_of([](PathRecord& r) { r.rate = 0x3F; })[55], 0x3F);
  EXPECT_EQ(bytes_of([](PathRecord& r) { r.packet_life_time_selector = 1; })[56], 0x40);
  EXPECT_EQ(bytes_of([](PathRecord& r) { r.preference = 0xAB; })[57], 0xAB);
}

TEST(SaPathRecord, RecordedRecordsEncodeBackToTheirBytes) {
  for (const auto* mad : {&kPathGetRequest, &kPathGetResp, &kPathGetNoRecords}) {
    std::array<uint8_t, kPathRecordSize> out{};
    encode(decode_path_record(record_bytes(*mad)), out);
    EXPECT_TRUE(std::equal(out.begin(), out.end(), record_bytes(*mad).begin()));
  }
}

TEST(SaPathRecord, HeadersEncodeBackToTheirBytes) {
  for (const auto* mad :
       {&kPathGetRequest, &kPathGetResp, &kPathGetNoRecords, &kPathGetTableResp}) {
    SaHeader h;
    ASSERT_FALSE(decode_header(*mad, h));
    wire::MadBytes out = *mad;
    std::fill_n(out.begin(), kSaHeaderSize, 0xEE);  // reserved header bytes must come back as 0
    encode_header(h, out);
    EXPECT_EQ(out, *mad);
  }
}

TEST(SaPathRecord, RandomRecordsRoundTrip) {
  std::mt19937_64 rng(16);
  for (int i = 0; i < 2000; ++i) {
    std::array<uint8_t, kPathRecordSize> bytes{};
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    // Any bytes decode; the reserved bits (44 bits 1..3, 58..63) are not kept.
    PathRecord r = decode_path_record(bytes);
    std::array<uint8_t, kPathRecordSize> again{};
    encode(r, again);
    EXPECT_EQ(decode_path_record(again), r);
    bytes[44] &= 0x8F;
    std::fill(bytes.begin() + 58, bytes.end(), 0);
    EXPECT_EQ(again, bytes);
  }
}

TEST(SaPathRecord, TheErrorAnswerCarriesErrNoRecordsAndNoRecords) {
  SaHeader h;
  ASSERT_FALSE(decode_header(kPathGetNoRecords, h));
  EXPECT_EQ(h.mad.status, 0x0300);
  EXPECT_EQ(sa_status_of(h.mad.status), SaStatus::NoRecords);
  EXPECT_EQ(to_string(sa_status_of(h.mad.status)), "ERR_NO_RECORDS");
  EXPECT_EQ(mad_status_of(SaStatus::ReqInvalidGid), 0x0500);
  auto records = decode_path_records(kPathGetNoRecords);
  ASSERT_FALSE(records);
  EXPECT_EQ(records.error(), RecordsError::Status);
}

TEST(SaPathRecord, DecodesASingleSegmentGetTableResp) {
  SaHeader h;
  ASSERT_FALSE(decode_header(kPathGetTableResp, h));
  EXPECT_EQ(h.rmpp_version, 1);
  EXPECT_EQ(h.rmpp_type, static_cast<uint8_t>(RmppType::Data));
  EXPECT_EQ(h.rmpp_flags, kRmppActive | kRmppFirst | kRmppLast);
  EXPECT_EQ(h.rmpp_resp_time, 0);
  EXPECT_EQ(h.segment_number, 1u);
  EXPECT_EQ(h.payload_length, 84u);
  auto records = decode_path_records(kPathGetTableResp);
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ(records->front(), opensm_record());
}

TEST(SaPathRecord, ATableOfThreeRecordsAndAnEmptyOne) {
  wire::MadBytes m = kPathGetTableResp;
  PathRecord second = opensm_record(), third = opensm_record();
  second.dlid = 6;
  second.preference = 2;
  third.slid = 4;
  encode(second, std::span<uint8_t, kPathRecordSize>(m.data() + kSaHeaderSize + 64, 64));
  encode(third, std::span<uint8_t, kPathRecordSize>(m.data() + kSaHeaderSize + 128, 64));
  m[35] = 20 + 3 * 64;
  auto records = decode_path_records(m);
  ASSERT_TRUE(records);
  EXPECT_EQ(*records, (std::vector<PathRecord>{opensm_record(), second, third}));
  // OpenSM's empty table: PayloadLength 20, AttributeOffset 0.
  m[35] = 20;
  m[45] = 0;
  records = decode_path_records(m);
  ASSERT_TRUE(records);
  EXPECT_TRUE(records->empty());
}

TEST(SaPathRecord, TablesItCannotReadAreRefused) {
  auto error_of = [](auto change) {
    wire::MadBytes m = kPathGetTableResp;
    change(m);
    auto r = decode_path_records(m);
    return r ? std::optional<RecordsError>{} : std::optional{r.error()};
  };
  EXPECT_EQ(error_of([](wire::MadBytes& m) { m[26] = 0x03; }), RecordsError::Segmented);
  EXPECT_EQ(error_of([](wire::MadBytes& m) { m[25] = 0x02; }), RecordsError::Segmented);
  EXPECT_EQ(error_of([](wire::MadBytes& m) { m[35] = 221; }), RecordsError::PayloadLength);
  EXPECT_EQ(error_of([](wire::MadBytes& m) { m[35] = 19; }), RecordsError::PayloadLength);
  EXPECT_EQ(error_of([](wire::MadBytes& m) { m[45] = 4; }), RecordsError::AttributeOffset);
  EXPECT_EQ(error_of([](wire::MadBytes& m) { m[17] = 0x38; }), RecordsError::NotPathRecord);
  EXPECT_EQ(error_of([](wire::MadBytes& m) { m[3] = 0x12; }), RecordsError::NotAResponse);
  EXPECT_EQ(error_of([](wire::MadBytes& m) { m[1] = 0x07; }), RecordsError::Header);
  auto shorter = decode_path_records(std::span(kPathGetResp).first(200));
  ASSERT_FALSE(shorter);
  EXPECT_EQ(shorter.error(), RecordsError::Header);
}

TEST(SaPathRecord, HeaderDecodeNamesWhatIsWrong) {
  SaHeader h;
  std::vector<uint8_t> longer(kPathGetResp.begin(), kPathGetResp.end());
  longer.push_back(0);
  EXPECT_EQ(decode_header(longer, h), SaDecodeError::LongBuffer);
  EXPECT_EQ(decode_header({}, h), SaDecodeError::ShortBuffer);
  wire::MadBytes m = kPathGetResp;
  m[0] = 2;
  EXPECT_EQ(decode_header(m, h), SaDecodeError::BaseVersion);
  m = kPathGetResp;
  m[1] = 0x07;
  EXPECT_EQ(decode_header(m, h), SaDecodeError::MgmtClass);
  m = kPathGetResp;
  m[2] = 1;
  EXPECT_EQ(decode_header(m, h), SaDecodeError::ClassVersion);
}

TEST(SaPathRecord, ResolvedRecordIsTheReqsPrimaryPath) {
  auto p = resolve(opensm_record());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->path.local_lid, 3);
  EXPECT_EQ(p->path.remote_lid, 5);
  EXPECT_EQ(p->path.local_gid, kOurGid);
  EXPECT_EQ(p->path.remote_gid, kPeerGid);
  EXPECT_EQ(p->path.flow_label, 0u);
  EXPECT_EQ(p->path.packet_rate, 16);
  EXPECT_EQ(p->path.traffic_class, 0);
  EXPECT_EQ(p->path.hop_limit, 0);
  EXPECT_EQ(p->path.sl, 0);
  EXPECT_TRUE(p->path.subnet_local);
  EXPECT_EQ(p->path.local_ack_timeout, 19);  // 2 x 4.096 us x 2^18
  EXPECT_EQ(p->mtu, wire::Mtu::Mtu4096);
  EXPECT_EQ(p->pkey, 0xFFFF);
  EXPECT_EQ(p->packet_life_time, 18);

  ConnectParams params;
  apply(*p, params);
  EXPECT_EQ(params.primary, p->path);
  EXPECT_EQ(params.mtu, wire::Mtu::Mtu4096);
  EXPECT_EQ(params.pkey, 0xFFFF);
  EXPECT_EQ(params.packet_life_time, 18);
  EXPECT_FALSE(params.alternate);
}

TEST(SaPathRecord, ResolveKeepsRoutedPathsAndRefusesUnusableMtus) {
  PathRecord r = opensm_record();
  r.hop_limit = 0xFF;  // through a router
  r.sl = 3;
  r.flow_label = 0x12345;
  r.traffic_class = 0x20;
  r.packet_life_time = 63;
  auto p = resolve(r);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->path.subnet_local);
  EXPECT_EQ(p->path.sl, 3);
  EXPECT_EQ(p->path.flow_label, 0x12345u);
  EXPECT_EQ(p->path.traffic_class, 0x20);
  EXPECT_EQ(p->path.local_ack_timeout, 31);
  ConnectParams params;
  apply(*p, params);
  EXPECT_EQ(params.packet_life_time, 31);  // the engine's exponent has 5 bits
  for (uint8_t mtu : {0, 6, 63}) {
    r.mtu = mtu;
    EXPECT_FALSE(resolve(r)) << int{mtu};
  }
  r.mtu = 1;
  ASSERT_TRUE(resolve(r));
  EXPECT_EQ(resolve(r)->mtu, wire::Mtu::Mtu256);
}
