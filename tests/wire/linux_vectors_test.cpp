// Real packets of the Linux 6.1 kernel CM (soft-RoCE): every ICRC checks, every MAD decodes to
// the values Linux sent, and re-encodes to the same bytes outside reserved bits.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <set>

#include "ibcm/wire/mad.h"
#include "ibcm/wire/pcap.h"
#include "ibcm/wire/roce.h"
#include "ibcm/wire/schema.h"

using namespace ibcm::wire;

namespace {

struct Frame {
  std::vector<uint8_t> raw;
  roce::Parsed parsed;
  Mad mad;
};

std::vector<Frame> load(const std::string& name) {
  auto recs = pcap::read_file(std::string(IBCM_VECTORS_DIR) + "/" + name);
  EXPECT_TRUE(recs.has_value()) << name;
  std::vector<Frame> out;
  if (!recs) return out;
  for (auto& r : *recs) {
    Frame f;
    f.raw = r.data;
    auto p = roce::parse_ethernet_frame(f.raw);
    EXPECT_TRUE(p.has_value());
    if (!p) continue;
    f.parsed = *p;
    auto m = decode(p->dgram.payload);
    EXPECT_TRUE(m.has_value());
    if (!m) continue;
    f.mad = *m;
    out.push_back(std::move(f));
  }
  return out;
}

// Bits of the MAD that some field covers, from the schema tables (the rest is reserved).
template <class M>
void mark(std::array<uint8_t, kMadSize>& mask, size_t base) {
  for (const auto& f : Schema<M>::fields)
    for (uint32_t b = f.first_bit(); b < f.end_bit(); ++b)
      mask[base + b / 8] |= static_cast<uint8_t>(0x80 >> (b % 8));
}

std::array<uint8_t, kMadSize> field_mask(const Message& m) {
  std::array<uint8_t, kMadSize> mask{};
  mark<MadHeader>(mask, 0);
  std::visit([&](const auto& x) { mark<std::decay_t<decltype(x)>>(mask, kMadHeaderSize); }, m);
  return mask;
}

void check_all(const std::vector<Frame>& frames) {
  for (const auto& f : frames) {
    EXPECT_TRUE(f.parsed.icrc_ok);
    EXPECT_EQ(f.parsed.dgram.bth.dest_qp, 1u);
    EXPECT_EQ(f.parsed.dgram.deth.qkey, roce::kGsiQkey);
    // Re-encode: equal to Linux's bytes wherever a field lies.
    auto again = encode(f.mad);
    auto mask = field_mask(f.mad.message);
    auto payload = f.parsed.dgram.payload;
    for (size_t i = 0; i < kMadSize; ++i)
      EXPECT_EQ(again[i] & mask[i], payload[i] & mask[i])
          << name_of(f.mad.message) << " byte " << i;
    // Rebuild the frame from the parsed datagram: same ICRC as Linux computed.
    uint8_t buf[roce::kMaxFrameSize];
    size_t n = roce::build_ethernet_frame(f.parsed.dgram, buf);
    ASSERT_GT(n, 0u);
    auto rebuilt = roce::parse_ethernet_frame({buf, n});
    ASSERT_TRUE(rebuilt.has_value());
    EXPECT_EQ(rebuilt->icrc, f.parsed.icrc);
  }
}

}  // namespace

TEST(LinuxVectors, UnansweredReqIsSentSixteenTimesWithTheSameCommId) {
  auto frames = load("linux61-req-unanswered.pcap");
  ASSERT_EQ(frames.size(), 16u);
  check_all(frames);
  std::set<uint32_t> ids;
  for (const auto& f : frames) {
    const auto& r = std::get<Req>(f.mad.message);
    ids.insert(r.local_comm_id);
    EXPECT_EQ(r.service_id, 0x0000000001061C06u);  // rdma_cm TCP port 7174
    EXPECT_EQ(r.primary.local_lid, 0xFFFF);
    EXPECT_EQ(r.primary.remote_lid, 0xFFFF);
    EXPECT_EQ(r.primary.hop_limit, 64);
    EXPECT_FALSE(r.primary.subnet_local);
    EXPECT_NE(r.primary.flow_label, 0u);
    EXPECT_EQ(r.max_cm_retries, 15);
    EXPECT_EQ(r.remote_cm_response_timeout, 20);
    EXPECT_EQ(r.local_cm_response_timeout, 20);
    EXPECT_EQ(r.transport_service_type, TransportType::RC);
  }
  EXPECT_EQ(ids.size(), 1u);
  // Retransmissions about 6.4 s apart (2 x 2^(18-8) ms + 2^(20-8) ms nominal).
  auto recs = pcap::read_file(std::string(IBCM_VECTORS_DIR) + "/linux61-req-unanswered.pcap");
  double gap = ((*recs)[1].time_ns - (*recs)[0].time_ns) / 1e9;
  EXPECT_GT(gap, 6.0);
  EXPECT_LT(gap, 7.0);
}

TEST(LinuxVectors, ReqRepRtu) {
  auto frames = load("linux61-req-rep-rtu.pcap");
  ASSERT_EQ(frames.size(), 3u);
  check_all(frames);
  const auto& req = std::get<Req>(frames[0].mad.message);
  const auto& rep = std::get<Rep>(frames[1].mad.message);
  const auto& rtu = std::get<Rtu>(frames[2].mad.message);
  EXPECT_EQ(rep.remote_comm_id, req.local_comm_id);
  EXPECT_EQ(frames[1].mad.header.transaction_id, frames[0].mad.header.transaction_id);
  EXPECT_EQ(rtu.remote_comm_id, rep.local_comm_id);
  EXPECT_NE(rep.local_qpn, 0u);
}

TEST(LinuxVectors, StaleReqGetsRej10ThenDreqForTheOldConnection) {
  auto frames = load("linux61-stale-answer.pcap");
  ASSERT_EQ(frames.size(), 10u);
  check_all(frames);
  const auto& first_req = std::get<Req>(frames[0].mad.message);
  const auto& first_rep = std::get<Rep>(frames[1].mad.message);
  const auto& second_req = std::get<Req>(frames[3].mad.message);
  EXPECT_EQ(second_req.local_qpn, first_req.local_qpn);
  EXPECT_NE(second_req.local_comm_id, first_req.local_comm_id);
  const auto& rej = std::get<Rej>(frames[4].mad.message);
  EXPECT_EQ(rej.reason, RejReason::StaleConnection);
  EXPECT_EQ(rej.message_rejected, MsgRef::Req);
  EXPECT_EQ(rej.local_comm_id, 0u);
  EXPECT_EQ(rej.remote_comm_id, second_req.local_comm_id);
  const auto& dreq = std::get<Dreq>(frames[5].mad.message);
  EXPECT_EQ(dreq.remote_qpn, first_req.local_qpn);
  EXPECT_EQ(dreq.local_comm_id, first_rep.local_comm_id);
  EXPECT_EQ(dreq.remote_comm_id, first_req.local_comm_id);
  EXPECT_TRUE(std::holds_alternative<Drep>(frames[6].mad.message));
  EXPECT_TRUE(std::holds_alternative<Rep>(frames[8].mad.message));
}

TEST(RoceFraming, FlippedByteIsAnIcrcMismatchAndTruncationNeverCrashes) {
  auto frames = load("linux61-req-rep-rtu.pcap");
  ASSERT_FALSE(frames.empty());
  auto raw = frames[0].raw;
  raw[100] ^= 1;
  auto p = roce::parse_ethernet_frame(raw);
  ASSERT_TRUE(p.has_value());
  EXPECT_FALSE(p->icrc_ok);
  for (size_t n = 0; n < frames[0].raw.size(); ++n) {
    auto q = roce::parse_ethernet_frame({frames[0].raw.data(), n});
    if (q) {
      EXPECT_LE(q->dgram.payload.size(), n);
    }
  }
}

TEST(RoceFraming, Ipv6RoundTrip) {
  roce::Datagram d;
  d.src_gid = Gid{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  d.dst_gid = Gid{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  d.flow_label = 0x12345;
  d.src_port = 5000;
  auto mad = encode(make_mad(Rtu{1, 2, {}}, 9));
  d.payload = mad;
  uint8_t buf[roce::kMaxFrameSize];
  size_t n = roce::build_ethernet_frame(d, buf);
  ASSERT_GT(n, 0u);
  auto p = roce::parse_ethernet_frame({buf, n});
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->icrc_ok);
  EXPECT_EQ(p->dgram.src_gid, d.src_gid);
  EXPECT_EQ(p->dgram.flow_label, 0x12345u);
  EXPECT_EQ(p->dgram.src_port, 5000);
  EXPECT_TRUE(std::equal(mad.begin(), mad.end(), p->dgram.payload.begin()));
  // Masked fields do not change the ICRC; unmasked ones do.
  buf[14 + 7] ^= 0x10;  // hop limit
  EXPECT_TRUE(roce::parse_ethernet_frame({buf, n})->icrc_ok);
  buf[14 + 8] ^= 0x10;  // source address
  EXPECT_FALSE(roce::parse_ethernet_frame({buf, n})->icrc_ok);
}

TEST(Pcap, WriteThenReadBack) {
  char path[] = "/tmp/ibcm-pcap-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    pcap::Writer w;
    ASSERT_EQ(w.open(path), "");
    std::vector<uint8_t> a(60, 1), b(300, 2);
    w.write(1'500'000'000, a);
    w.write(2'000'001'000, b);
  }
  auto recs = pcap::read_file(path);
  std::remove(path);
  ASSERT_TRUE(recs.has_value());
  ASSERT_EQ(recs->size(), 2u);
  EXPECT_EQ((*recs)[0].data.size(), 60u);
  EXPECT_EQ((*recs)[1].data[299], 2);
  EXPECT_EQ((*recs)[0].time_ns, 1'500'000'000u);
  EXPECT_EQ((*recs)[1].time_ns, 2'000'001'000u);
  EXPECT_FALSE(pcap::read_bytes(std::vector<uint8_t>(10, 0)).has_value());
}
