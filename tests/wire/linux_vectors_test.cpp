// Real packets of the Linux 6.1 kernel CM (soft-RoCE, tests/vectors/README.md): every ICRC
// checks, every MAD decodes to the values Linux sent, re-encodes to the same bytes outside
// reserved bits, and every frame rebuilds to the same IP packet.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>

#include "ibcm/wire/mad.h"
#include "ibcm/wire/pcap.h"
#include "ibcm/wire/rdma_cm.h"
#include "ibcm/wire/roce.h"
#include "ibcm/wire/schema.h"
#include "wire/testkit.h"

using namespace ibcm::wire;
using ibcm::wire::testkit::field_mask;

namespace {

const uint8_t kHostIp[4] = {198, 51, 100, 1};
const uint8_t kGuestIp[4] = {198, 51, 100, 2};  // the Linux CM
constexpr uint64_t kGuestCaGuid =
    0x505400fffe123456;  // EUI-64 of the guest's MAC 52:54:00:12:34:56

struct Frame {
  size_t number = 0;  // 1-based, as tshark counts
  uint64_t time_ns = 0;
  std::vector<uint8_t> raw;
  roce::Parsed parsed;
  Mad mad;
  bool from_linux() const { return parsed.dgram.src_gid == roce::ipv4_mapped_gid(kGuestIp); }
};

std::vector<Frame> load(const std::string& name) {
  auto recs = pcap::read_file(std::string(IBCM_VECTORS_DIR) + "/" + name);
  EXPECT_TRUE(recs.has_value()) << name;
  std::vector<Frame> out;
  if (!recs) return out;
  for (auto& r : *recs) {
    Frame f;
    f.number = out.size() + 1;
    f.time_ns = r.time_ns;
    f.raw = r.data;
    auto p = roce::parse_ethernet_frame(f.raw);
    EXPECT_TRUE(p.has_value()) << name << " frame " << f.number;
    if (!p) continue;
    f.parsed = *p;
    auto m = decode(p->dgram.payload);
    EXPECT_TRUE(m.has_value()) << name << " frame " << f.number;
    if (!m) continue;
    f.mad = *m;
    out.push_back(std::move(f));
  }
  // Frames move while the vector grows: point each payload at its own frame's bytes.
  for (auto& f : out)
    f.parsed.dgram.payload = {f.raw.data() + f.raw.size() - roce::kIcrcSize - kMadSize, kMadSize};
  return out;
}

size_t reserved_bits(const Message& m) {
  size_t n = 0;
  for (uint8_t b : field_mask(m)) n += 8 - static_cast<size_t>(__builtin_popcount(b));
  return n;
}

std::span<const uint8_t> mad_bytes(const Frame& f) {
  return f.parsed.dgram.payload;
}

// Non-zero reserved bits as "frame N MSG byte B (CM data byte C) bits 0xXX" lines.
std::vector<std::string> reserved_set(const Frame& f) {
  std::vector<std::string> out;
  auto mask = field_mask(f.mad.message);
  auto bytes = mad_bytes(f);
  for (size_t i = 0; i < kMadSize; ++i) {
    if ((bytes[i] & ~mask[i]) == 0) continue;
    char line[128];
    std::snprintf(line, sizeof line, "frame %zu %s MAD byte %zu bits 0x%02x", f.number,
                  std::string(name_of(f.mad.message)).c_str(), i, bytes[i] & ~mask[i]);
    out.emplace_back(line);
  }
  return out;
}

// What holds for every frame, whoever sent it.
void check_all(const std::vector<Frame>& frames) {
  for (const auto& f : frames) {
    SCOPED_TRACE("frame " + std::to_string(f.number) + " " + std::string(name_of(f.mad.message)));
    const auto& d = f.parsed.dgram;
    EXPECT_TRUE(f.parsed.icrc_ok);
    EXPECT_TRUE(roce::is_ipv4_mapped(d.src_gid));
    EXPECT_EQ(d.dst_port, roce::kUdpPort);
    EXPECT_EQ(d.bth.opcode, roce::kOpUdSendOnly);
    EXPECT_EQ(d.bth.pkey, 0xFFFF);
    EXPECT_EQ(d.bth.dest_qp, 1u);
    EXPECT_TRUE(d.bth.ack_req);
    EXPECT_EQ(d.deth.qkey, roce::kGsiQkey);
    EXPECT_EQ(d.deth.src_qp, 1u);
    EXPECT_EQ(d.payload.size(), kMadSize);
    EXPECT_EQ(f.mad.header.method, static_cast<uint8_t>(Method::Send));
    EXPECT_EQ(f.mad.header.status, 0);
    EXPECT_EQ(f.mad.header.attribute_modifier, 0u);  // no ECE from rping/rdma_cm here

    // Re-encode: equal to the sender's bytes wherever a field lies.
    auto again = encode(f.mad);
    auto mask = field_mask(f.mad.message);
    auto orig = mad_bytes(f);
    for (size_t i = 0; i < kMadSize; ++i)
      EXPECT_EQ(again[i] & mask[i], orig[i] & mask[i]) << "MAD byte " << i;

    // Rebuild the packet from the parsed datagram: the same IP packet, byte for byte (so the
    // same IPv4 header checksum, DF flag, lengths and ICRC as Linux computed).
    roce::Datagram dg = d;
    dg.payload = again;
    uint8_t buf[roce::kMaxFrameSize];
    size_t n = roce::build_ethernet_frame(dg, buf);
    ASSERT_EQ(n, f.raw.size());
    auto rebuilt = roce::parse_ethernet_frame({buf, n});
    ASSERT_TRUE(rebuilt.has_value());
    EXPECT_EQ(rebuilt->icrc, f.parsed.icrc);
    EXPECT_TRUE(std::equal(buf + roce::kEthernetSize, buf + n, f.raw.begin() + 14));
    size_t m = roce::build_ip_packet(dg, {buf, sizeof buf});
    ASSERT_EQ(m, n - roce::kEthernetSize);
    EXPECT_TRUE(std::equal(buf, buf + m, f.raw.begin() + 14));
  }
}

// What holds for every frame Linux sent: the IP and BTH fields of Linux 6.1 rxe on QP1.
void check_linux_frames(const std::vector<Frame>& frames, uint32_t first_psn = 0) {
  uint32_t psn = first_psn;
  std::set<uint16_t> src_ports;
  for (const auto& f : frames) {
    if (!f.from_linux()) continue;
    SCOPED_TRACE("frame " + std::to_string(f.number));
    const auto& d = f.parsed.dgram;
    EXPECT_EQ(d.dst_gid, roce::ipv4_mapped_gid(kHostIp));
    EXPECT_EQ(d.hop_limit, 64);
    EXPECT_EQ(d.traffic_class, 0);
    const uint8_t* ip = f.raw.data() + 14;
    EXPECT_EQ(ip[6] << 8 | ip[7], 0x4000);       // Don't Fragment
    EXPECT_EQ(ip[20 + 6] << 8 | ip[20 + 7], 0);  // no UDP checksum
    // rxe counts PSNs on QP1 like on any UD QP: one per packet sent, not always 0.
    EXPECT_EQ(d.bth.psn, psn++);
    src_ports.insert(d.src_port);
    EXPECT_TRUE(reserved_set(f).empty()) << reserved_set(f).front();
  }
  EXPECT_EQ(src_ports.size(), 1u);  // one UDP source port per flow
}

// Linux's TIDs for the requests it starts: the MAD agent's hi_tid above the local comm ID as the
// x86 host stores it (byte-swapped relative to the wire field).
uint64_t linux_tid(uint32_t hi, uint32_t local_comm_id) {
  return uint64_t{hi} << 32 | __builtin_bswap32(local_comm_id);
}

}  // namespace

TEST(LinuxVectors, ReservedMaskMatchesTheSpecTables) {
  // REQ: byte 4, bytes 24-27, 6 bits around each packet rate, 3 after each SubnetLocal, 3 after
  // the primary LocalACKTimeout, 2 after SAPSupported; plus the MAD header's bytes 18-19.
  EXPECT_EQ(reserved_bits(Req{}), 16u + 8 + 32 + 6 + 3 + 3 + 6 + 3 + 2);
  EXPECT_EQ(reserved_bits(Rep{}), 16u + 4);  // byte 27, after SRQ
  EXPECT_EQ(reserved_bits(Rej{}), 16u + 6 + 1);
  EXPECT_EQ(reserved_bits(Dreq{}), 16u + 8);
  EXPECT_EQ(reserved_bits(Rtu{}), 16u);
  EXPECT_EQ(reserved_bits(Drep{}), 16u);
}

TEST(LinuxVectors, UnansweredReqIsSentSixteenTimesUnchanged) {
  auto frames = load("linux61-req-unanswered.pcap");
  ASSERT_EQ(frames.size(), 16u);
  check_all(frames);
  check_linux_frames(frames);
  const auto first = std::get<Req>(frames[0].mad.message);
  for (const auto& f : frames) {
    SCOPED_TRACE("frame " + std::to_string(f.number));
    ASSERT_TRUE(f.from_linux());
    const auto& r = std::get<Req>(f.mad.message);
    EXPECT_EQ(r, first);  // retransmissions are the same message, comm ID included
    EXPECT_EQ(f.mad.header.transaction_id, frames[0].mad.header.transaction_id);
  }
  const Req& r = first;
  EXPECT_EQ(frames[0].mad.header.transaction_id, linux_tid(2, r.local_comm_id));
  EXPECT_EQ(r.local_comm_id, 0x98f1a23fu);
  EXPECT_EQ(r.vendor_id, 0u);
  EXPECT_EQ(r.service_id, 0x0000000001061C06u);  // rdma_cm TCP port 7174
  EXPECT_EQ(r.local_ca_guid, kGuestCaGuid);
  EXPECT_EQ(r.local_qkey, 0u);  // RC: the Q_Key is not used
  EXPECT_EQ(r.local_qpn, 17u);
  EXPECT_EQ(r.responder_resources, 1);
  EXPECT_EQ(r.initiator_depth, 1);
  EXPECT_EQ(r.local_eecn, 0u);
  EXPECT_EQ(r.remote_eecn, 0u);
  EXPECT_EQ(r.remote_cm_response_timeout, 20);
  EXPECT_EQ(r.local_cm_response_timeout, 20);
  EXPECT_EQ(r.transport_service_type, TransportType::RC);
  EXPECT_FALSE(r.end_to_end_flow_control);
  EXPECT_EQ(r.starting_psn, 0x589090u);
  EXPECT_EQ(r.retry_count, 7);
  EXPECT_EQ(r.partition_key, 0xFFFF);
  EXPECT_EQ(r.path_mtu, Mtu::Mtu1024);
  EXPECT_FALSE(r.rdc_exists);
  EXPECT_EQ(r.rnr_retry_count, 7);
  EXPECT_EQ(r.max_cm_retries, 15);
  EXPECT_FALSE(r.srq);
  EXPECT_EQ(r.extended_transport_type, ExtendedTransport::None);
  EXPECT_EQ(r.primary.local_lid, 0xFFFF);
  EXPECT_EQ(r.primary.remote_lid, 0xFFFF);
  EXPECT_EQ(r.primary.local_gid, roce::ipv4_mapped_gid(kGuestIp));
  EXPECT_EQ(r.primary.remote_gid, roce::ipv4_mapped_gid(kHostIp));
  EXPECT_NE(r.primary.flow_label, 0u);
  EXPECT_EQ(r.primary.flow_label, 0xb4f09u);  // all 20 bits used (tshark shows only 12)
  EXPECT_EQ(r.primary.packet_rate, 0);
  EXPECT_EQ(r.primary.traffic_class, 0);
  EXPECT_EQ(r.primary.hop_limit, 64);
  EXPECT_EQ(r.primary.sl, 0);
  EXPECT_FALSE(r.primary.subnet_local);
  EXPECT_EQ(r.primary.local_ack_timeout, 19);  // packet lifetime 18, plus one
  EXPECT_EQ(r.alternate, PathInfo{});          // no alternate path
  EXPECT_FALSE(r.sap_supported);
  // The private data starts with the rdma_cm header (detailed in rdma_cm_test.cpp).
  auto h = rdma_cm::decode_header(r.private_data);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->ip_version, 4);

  // Retransmissions 6.4 s apart (2 x 2^(18-8) ms + 2^(20-8) ms = 6144 ms nominal).
  for (size_t i = 1; i < frames.size(); ++i) {
    double gap = static_cast<double>(frames[i].time_ns - frames[i - 1].time_ns) / 1e9;
    EXPECT_GT(gap, 6.3) << i;
    EXPECT_LT(gap, 6.5) << i;
  }
}

TEST(LinuxVectors, ReqRepRtu) {
  auto frames = load("linux61-req-rep-rtu.pcap");
  ASSERT_EQ(frames.size(), 3u);
  check_all(frames);
  check_linux_frames(frames);
  ASSERT_TRUE(frames[1].from_linux());
  const auto& req = std::get<Req>(frames[0].mad.message);
  const auto& rep = std::get<Rep>(frames[1].mad.message);
  const auto& rtu = std::get<Rtu>(frames[2].mad.message);
  EXPECT_EQ(frames[1].mad.header.transaction_id, frames[0].mad.header.transaction_id);
  EXPECT_NE(rep.local_comm_id, 0u);
  EXPECT_EQ(rep.remote_comm_id, req.local_comm_id);
  EXPECT_EQ(rep.local_qkey, 0u);
  EXPECT_EQ(rep.local_qpn, 17u);
  EXPECT_EQ(rep.local_eecn, 0u);
  EXPECT_EQ(rep.vendor_id_high, 0);
  EXPECT_EQ(rep.vendor_id_mid, 0);
  EXPECT_EQ(rep.vendor_id_low, 0);
  EXPECT_EQ(rep.starting_psn, 0x4fdcbdu);
  EXPECT_EQ(rep.responder_resources, 1);
  EXPECT_EQ(rep.initiator_depth, 1);
  EXPECT_EQ(rep.target_ack_delay, 15);
  EXPECT_EQ(rep.failover_accepted, 0);
  EXPECT_FALSE(rep.end_to_end_flow_control);
  EXPECT_EQ(rep.rnr_retry_count, 7);
  EXPECT_FALSE(rep.srq);
  EXPECT_EQ(rep.local_ca_guid, kGuestCaGuid);
  EXPECT_EQ(rep.private_data, decltype(rep.private_data){});  // rping accepts with none
  EXPECT_EQ(rtu.local_comm_id, req.local_comm_id);
  EXPECT_EQ(rtu.remote_comm_id, rep.local_comm_id);
  // Linux answered within ~35 ms.
  EXPECT_LT(frames[1].time_ns - frames[0].time_ns, 100'000'000u);
}

TEST(LinuxVectors, StaleReqGetsRej10ThenDreqForTheOldConnection) {
  auto frames = load("linux61-stale-answer.pcap");
  ASSERT_EQ(frames.size(), 10u);
  check_all(frames);
  check_linux_frames(frames);
  const char* expected[] = {"REQ", "REP", "RTU", "REQ", "REJ", "DREQ", "DREP", "REQ", "REP", "RTU"};
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(name_of(frames[i].mad.message), expected[i]) << i;
    bool linux_sends = i == 1 || i == 4 || i == 5 || i == 8;
    EXPECT_EQ(frames[i].from_linux(), linux_sends) << i;
  }
  const auto& first_req = std::get<Req>(frames[0].mad.message);
  const auto& first_rep = std::get<Rep>(frames[1].mad.message);
  const auto& second_req = std::get<Req>(frames[3].mad.message);
  EXPECT_EQ(second_req.local_qpn, first_req.local_qpn);
  EXPECT_EQ(second_req.local_ca_guid, first_req.local_ca_guid);
  EXPECT_NE(second_req.local_comm_id, first_req.local_comm_id);

  const auto& rej = std::get<Rej>(frames[4].mad.message);
  EXPECT_EQ(frames[4].mad.header.transaction_id, frames[3].mad.header.transaction_id);
  EXPECT_EQ(rej.reason, RejReason::StaleConnection);
  EXPECT_EQ(static_cast<uint16_t>(rej.reason), 10);
  EXPECT_EQ(rej.message_rejected, MsgRef::Req);
  EXPECT_EQ(rej.local_comm_id, 0u);
  EXPECT_EQ(rej.remote_comm_id, second_req.local_comm_id);
  EXPECT_EQ(rej.rejected_info_length, 0);
  EXPECT_EQ(rej.ari, decltype(rej.ari){});
  EXPECT_EQ(rej.private_data, decltype(rej.private_data){});

  const auto& dreq = std::get<Dreq>(frames[5].mad.message);
  EXPECT_EQ(dreq.remote_qpn, first_req.local_qpn);
  EXPECT_EQ(dreq.remote_qpn, 291u);
  EXPECT_EQ(dreq.local_comm_id, first_rep.local_comm_id);
  EXPECT_EQ(dreq.remote_comm_id, first_req.local_comm_id);
  EXPECT_EQ(frames[5].mad.header.transaction_id, linux_tid(2, dreq.local_comm_id));
  EXPECT_EQ(dreq.private_data, decltype(dreq.private_data){});
  // REJ and DREQ leave together, before the host's DREP.
  EXPECT_LT(frames[5].time_ns - frames[4].time_ns, 10'000'000u);

  const auto& drep = std::get<Drep>(frames[6].mad.message);
  EXPECT_EQ(drep.remote_comm_id, dreq.local_comm_id);
  const auto& third_req = std::get<Req>(frames[7].mad.message);
  const auto& second_rep = std::get<Rep>(frames[8].mad.message);
  EXPECT_EQ(second_rep.remote_comm_id, third_req.local_comm_id);
  EXPECT_NE(second_rep.local_comm_id, first_rep.local_comm_id);
  EXPECT_NE(second_rep.local_qpn, first_rep.local_qpn);  // a new QP on Linux's side
  EXPECT_EQ(second_rep.local_ca_guid, kGuestCaGuid);
}

// The finding asked for: where the Linux CM puts non-zero bits outside every field. It puts
// none in these captures; the host script's messages are listed too, for comparison.
TEST(LinuxVectors, ReservedBitsReport) {
  size_t linux_mads = 0;
  std::vector<std::string> linux_bits, host_bits;
  for (const char* name :
       {"linux61-req-unanswered.pcap", "linux61-req-rep-rtu.pcap", "linux61-stale-answer.pcap"}) {
    for (const auto& f : load(name)) {
      auto bits = reserved_set(f);
      for (auto& b : bits) (f.from_linux() ? linux_bits : host_bits).push_back(name + (" " + b));
      linux_mads += f.from_linux();
    }
  }
  EXPECT_EQ(linux_mads, 16u + 1 + 4);
  std::string report = std::to_string(linux_bits.size()) + " reserved-bit deviations in " +
                       std::to_string(linux_mads) +
                       " Linux MADs; host script: " + std::to_string(host_bits.size());
  RecordProperty("reserved_bits", report);
  std::printf("[ report   ] %s\n", report.c_str());
  for (const auto& b : linux_bits) std::printf("[ report   ] linux %s\n", b.c_str());
  for (const auto& b : host_bits) std::printf("[ report   ] host  %s\n", b.c_str());
  EXPECT_TRUE(linux_bits.empty());
}
