// The run's records as others read them: the pcap parses back as RoCEv2 with valid ICRCs, and
// the ladder shows every MAD, event and note with its marks.
#include <gtest/gtest.h>

#include <sstream>

#include "ibcm/wire/pcap.h"
#include "ibcm/wire/roce.h"
#include "sim/workload.h"

namespace ibcm::sim::test {
namespace {

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

Address nowhere() {
  Address a;
  a.gid = wire::Gid{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 0, 1};
  return a;
}

TEST(Pcap, EveryCopyOnTheWireParsesBackWithAValidIcrc) {
  StarRun r(config(2, 1));
  r.fabric.add_rule(drop_next(wire::AttrId::Rep));
  r.fabric.add_rule(duplicate_next(wire::AttrId::Rtu));
  r.fabric.inject(A, nowhere(), stray_dreq(0));  // unroutable: not captured
  ASSERT_EQ(r.run(), Stop::Idle);
  const std::string path = ::testing::TempDir() + "sim_trace.pcap";
  ASSERT_EQ(r.fabric.write_pcap(path), "");

  std::vector<MadRecord> wire_copies;
  for (const auto& m : r.fabric.trace().mads)
    if (m.fate != Fate::Unroutable) wire_copies.push_back(m);
  ASSERT_EQ(wire_copies.size() + 1, r.fabric.trace().mads.size());

  auto records = wire::pcap::read_file(path);
  ASSERT_TRUE(records.has_value()) << records.error();
  ASSERT_EQ(records->size(), wire_copies.size());
  for (size_t i = 0; i < records->size(); ++i) {
    const auto& rec = (*records)[i];
    const MadRecord& m = wire_copies[i];
    // Classic pcap keeps microseconds.
    EXPECT_EQ(rec.time_ns, static_cast<uint64_t>(m.sent.count()) / 1000 * 1000);
    auto parsed = wire::roce::parse_ethernet_frame(rec.data);
    ASSERT_TRUE(parsed.has_value()) << i;
    EXPECT_TRUE(parsed->icrc_ok) << i;
    EXPECT_EQ(parsed->dgram.src_gid, m.from_address.gid);
    EXPECT_EQ(parsed->dgram.dst_gid, m.to_address.gid);
    EXPECT_EQ(parsed->dgram.dst_port, wire::roce::kUdpPort);
    EXPECT_EQ(parsed->dgram.deth.qkey, wire::roce::kGsiQkey);
    ASSERT_EQ(parsed->dgram.payload.size(), wire::kMadSize);
    EXPECT_TRUE(std::equal(m.bytes.begin(), m.bytes.end(), parsed->dgram.payload.begin()));
  }
  // The dropped REP and both RTU copies are in the capture.
  int reps = 0, rtus = 0;
  for (const auto& m : wire_copies) {
    reps += m.attr() == static_cast<uint16_t>(wire::AttrId::Rep);
    rtus += m.attr() == static_cast<uint16_t>(wire::AttrId::Rtu);
  }
  EXPECT_EQ(reps, 2);
  EXPECT_EQ(rtus, 2);
}

TEST(Pcap, UnwritablePathIsReported) {
  Fabric f(config(2, 1));
  EXPECT_NE(f.write_pcap("/nonexistent-dir/x.pcap"), "");
}

TEST(Pcap, AWriteThatFailsIsReported) {
  StarRun r(config(2, 1));
  ASSERT_EQ(r.run(), Stop::Idle);
  ASSERT_FALSE(r.fabric.trace().mads.empty());
  EXPECT_NE(r.fabric.write_pcap("/dev/full"), "");  // the open succeeds, the writes do not
}

TEST(Ladder, OneLinePerMadEventAndNoteInOrder) {
  StarRun r(config(2, 1));
  r.fabric.add_rule(drop_next(wire::AttrId::Rep));
  r.fabric.annotate(A, "start");
  r.run();
  const auto& t = r.fabric.trace();
  const auto lines = lines_of(r.fabric.ladder());
  ASSERT_EQ(lines.size(), 1 + t.mads.size() + t.events.size() + t.notes.size());
  EXPECT_EQ(lines[0], "nodes: A=::ffff:10.0.0.1 B=::ffff:10.0.0.2");
  EXPECT_EQ(lines[1], "      0.000 ms  A  ** start");
  EXPECT_EQ(lines[2].rfind("      0.000 ms  A --REQ--------> B  comm=0x", 0), 0u) << lines[2];
  EXPECT_NE(lines[2].find(" sid=0x00000000010612b7 qpn=0x000100"), std::string::npos);
  EXPECT_EQ(lines[3].rfind("      0.005 ms  B  : req_received conn=0x", 0), 0u) << lines[3];
  EXPECT_EQ(lines[4].rfind("      0.005 ms  A <--------REP-- B  comm=0x", 0), 0u) << lines[4];
  EXPECT_EQ(lines[4].substr(lines[4].size() - 10), " [DROPPED]");

  // Times never go backwards, and the retransmitted REP is marked.
  double last = -1;
  int resent_reps = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    const double ms = std::stod(lines[i].substr(0, 11));
    EXPECT_GE(ms, last) << lines[i];
    last = ms;
    resent_reps += lines[i].find("REP--") != std::string::npos &&
                   lines[i].find("(resent)") != std::string::npos;
  }
  EXPECT_EQ(resent_reps, 1);
  const std::string all = r.fabric.ladder();
  EXPECT_NE(all.find("A --DREQ-------> B  comm=0x"), std::string::npos);
  EXPECT_NE(all.find(" rqpn=0x000100"), std::string::npos);
  EXPECT_NE(all.find("A  : timewait_exit conn=0x"), std::string::npos);
}

TEST(Ladder, MarksFatesAndFabricChanges) {
  Fabric f(config(3, 1));
  LinkParams lossy;
  lossy.loss = 1.0;
  f.set_link(A, C, lossy);
  f.add_rule(duplicate_next(wire::AttrId::Dreq, A, B));
  f.inject(A, f.address(B), stray_dreq(0));
  f.inject(A, f.address(C), stray_dreq(1));
  f.inject(A, nowhere(), stray_dreq(2));
  f.run_until_idle(1s);
  f.isolate({B});
  f.inject(A, f.address(B), stray_dreq(3));
  f.heal_all();
  f.crash(C);
  f.set_link(A, C, LinkParams{});
  f.inject(A, f.address(C), stray_dreq(4));
  f.run_until_idle(2s);
  const std::string l = f.ladder();
  EXPECT_NE(l.find("A --DREQ-------> B  comm=0x00010000/0x00020000 rqpn=0x000042 [INJECTED]\n"),
            std::string::npos)
      << l;
  EXPECT_NE(l.find("[INJECTED] [DUP]\n"), std::string::npos);
  EXPECT_NE(
      l.find("A --DREQ-------> C  comm=0x00010001/0x00020001 rqpn=0x000042 [INJECTED] [LOST]"),
      std::string::npos);
  EXPECT_NE(
      l.find("A --DREQ-------> ?  comm=0x00010002/0x00020002 rqpn=0x000042 to=::ffff:192.168.0.1 "
             "[INJECTED] [UNROUTABLE]"),
      std::string::npos);
  EXPECT_NE(l.find("[PARTITIONED]"), std::string::npos);
  EXPECT_NE(l.find("[NODE DOWN]"), std::string::npos);
  EXPECT_NE(l.find("** partition {B} | {AC} #1"), std::string::npos);
  EXPECT_NE(l.find("** heal all"), std::string::npos);
  EXPECT_NE(l.find("C  ** crash"), std::string::npos);
  EXPECT_NE(l.find("A <-------DREP-- B  comm=0x00020000/0x00010000"), std::string::npos);
}

TEST(Ladder, ManyNodesGetNumberedNames) {
  Fabric f(config(30, 1));
  f.inject(28, f.address(3), stray_dreq(0));
  f.run_until_idle(1s);
  const std::string l = f.ladder();
  EXPECT_NE(l.find("N3  <-------DREQ-- N28"), std::string::npos) << l;
  EXPECT_NE(l.find("N3  --DREP-------> N28"), std::string::npos) << l;
}

TEST(Ladder, SummaryOfUndecodableBytes) {
  wire::MadBytes junk{};
  EXPECT_EQ(mad_summary(junk).rfind("undecodable", 0), 0u);
}

}  // namespace
}  // namespace ibcm::sim::test
