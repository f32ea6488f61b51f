// Writes the seed corpus of every fuzz target: fuzz_seeds VECTORS_DIR OUT_DIR makes
// OUT_DIR/{mad_decode,roce_parse,engine}/ with
// - every frame of the Linux captures in VECTORS_DIR (whole Ethernet frame and IP packet), and
//   every MAD in them;
// - encoded messages of every type with random field values, alone and framed as RoCEv2 over
//   IPv4 and IPv6;
// - for the engine: scripted runs (handshake, disconnect, REJ, MRA, LAP/APR, SIDR, peer-to-peer,
//   a rebooted peer, lost messages), each Linux MAD fed to a listening CM, and the simulator's
//   scenarios (`ibcm sim --all`) recorded as inputs that replay their MAD sequences.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "engine_ops.h"
#include "ibcm/wire/mad.h"
#include "ibcm/wire/pcap.h"
#include "ibcm/wire/roce.h"
#include "scenario_seeds.h"
#include "wire/testkit.h"

using namespace ibcm::wire;
using ibcm::fuzz::Op;
using ibcm::fuzz::Writer;
namespace fs = std::filesystem;

namespace {

int written = 0;

void put(const fs::path& dir, const std::string& name, std::span<const uint8_t> bytes) {
  std::ofstream f(dir / name, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) {
    std::fprintf(stderr, "fuzz_seeds: cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
  ++written;
}

std::vector<MadBytes> linux_mads;

void from_captures(const fs::path& vectors, const fs::path& out) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(vectors))
    if (e.path().extension() == ".pcap") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    auto records = pcap::read_file(file.string());
    if (!records) {
      std::fprintf(stderr, "fuzz_seeds: %s: %s\n", file.c_str(), records.error().c_str());
      std::exit(1);
    }
    int n = 0;
    for (const auto& r : *records) {
      const std::string stem = file.stem().string() + "-" + std::to_string(++n);
      put(out / "roce_parse", stem + "-frame", r.data);
      if (r.data.size() > roce::kEthernetSize)
        put(out / "roce_parse", stem + "-ip", std::span(r.data).subspan(roce::kEthernetSize));
      auto p = roce::parse_ethernet_frame(r.data);
      if (!p || p->dgram.payload.size() != kMadSize) continue;
      put(out / "mad_decode", stem + "-mad", p->dgram.payload);
      MadBytes m;
      std::copy(p->dgram.payload.begin(), p->dgram.payload.end(), m.begin());
      linux_mads.push_back(m);
    }
  }
}

void encoded_messages(const fs::path& out) {
  std::mt19937_64 rng(0x5eed);
  for (size_t type = 0; type < std::variant_size_v<Message>; ++type) {
    for (int i = 0; i < 4; ++i) {
      const Mad mad = testkit::valid_mad(testkit::message_of_index(type), rng);
      const MadBytes bytes = encode(mad);
      const std::string stem = std::string(name_of(mad.message)) + "-" + std::to_string(i);
      put(out / "mad_decode", stem, bytes);
      roce::Datagram d;
      if (i % 2 == 0) {
        const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
        d.src_gid = roce::ipv4_mapped_gid(a);
        d.dst_gid = roce::ipv4_mapped_gid(b);
      } else {
        d.src_gid = Gid{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        d.dst_gid = Gid{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
      }
      d.payload = bytes;
      uint8_t frame[roce::kMaxFrameSize];
      put(out / "roce_parse", stem + "-frame", {frame, roce::build_ethernet_frame(d, frame)});
      put(out / "roce_parse", stem + "-ip", {frame, roce::build_ip_packet(d, frame)});
    }
  }
}

// Scripted engine runs; argument 0 is the node (0 = A, 1 = B) unless noted in engine_ops.h.
void engine_scripts(const fs::path& dir) {
  auto handshake = [](Writer& w) {
    w.op(Op::Listen, {1}).op(Op::Connect, {0}).op(Op::Deliver);
    w.op(Op::Accept, {1}).op(Op::Deliver).op(Op::SendRtu, {0}).op(Op::Deliver);
  };
  auto save = [&](const std::string& name, const Writer& w) { put(dir, name, w.bytes()); };
  {
    Writer w;
    handshake(w);
    w.op(Op::Disconnect, {0}).op(Op::Deliver).op(Op::SendDrep, {1}).op(Op::Deliver);
    w.op(Op::RunTimers).op(Op::RunTimers);
    save("handshake-disconnect", w);
  }
  {
    Writer w;
    handshake(w);
    w.op(Op::LoadAlternatePath, {0}).op(Op::Deliver).op(Op::SendApr, {1}).op(Op::Deliver);
    w.op(Op::Migrate, {0}).op(Op::Query, {0, 0, 2});
    save("handshake-lap-apr", w);
  }
  {
    Writer w;
    w.op(Op::Listen, {1}).op(Op::Connect, {0}).op(Op::Deliver).op(Op::Reject, {1, 0, 28});
    w.op(Op::Deliver);
    save("reject", w);
  }
  {
    Writer w;
    w.op(Op::Listen, {1}).op(Op::Connect, {0}).op(Op::Deliver).op(Op::SendMra, {1, 0, 24});
    w.op(Op::Deliver).op(Op::Accept, {1}).op(Op::Deliver).op(Op::SendMra, {0, 0, 20});
    w.op(Op::Deliver).op(Op::SendRtu, {0}).op(Op::Deliver);
    save("mra-both-ways", w);
  }
  {
    Writer w;
    w.op(Op::Listen, {1}).op(Op::SidrRequest, {0}).op(Op::Deliver).op(Op::SidrReply, {1});
    w.op(Op::Deliver).op(Op::RunTimers);
    save("sidr", w);
  }
  {
    Writer w;
    w.op(Op::Connect, {0x02}).op(Op::Connect, {0x03}).op(Op::Deliver).op(Op::Deliver);
    w.op(Op::Accept, {0}).op(Op::Accept, {1}).op(Op::Deliver).op(Op::Deliver);
    w.op(Op::SendRtu, {0}).op(Op::SendRtu, {1}).op(Op::Deliver).op(Op::Deliver);
    save("peer-to-peer", w);
  }
  {
    Writer w;
    handshake(w);
    w.op(Op::Reboot, {0}).op(Op::Connect, {0}).op(Op::Deliver).op(Op::Deliver).op(Op::Deliver);
    w.op(Op::Deliver).op(Op::RunTimers).op(Op::RunTimers);
    save("stale-after-reboot", w);
  }
  {
    Writer w;
    w.op(Op::Listen, {1}).op(Op::Connect, {0}).op(Op::Drop).op(Op::RunTimers).op(Op::Duplicate);
    w.op(Op::Deliver).op(Op::Accept, {1}).op(Op::Drop).op(Op::RunTimers).op(Op::Deliver);
    w.op(Op::Deliver).op(Op::Establish, {1}).op(Op::Disconnect, {1}).op(Op::Drop);
    w.op(Op::Advance, {1, 0, 0, 0, 24});
    save("lost-messages", w);
  }
  int n = 0;
  for (const auto& mad : linux_mads) {
    Writer w;
    std::vector<uint8_t> args{1, 0};
    args.insert(args.end(), mad.begin(), mad.end());
    w.op(Op::Listen, {1, 1}).op(Op::InjectRaw, args).op(Op::Accept, {1}).op(Op::RunTimers);
    save("linux-mad-" + std::to_string(++n), w);
  }
}

void scenarios(const fs::path& dir) {
  for (const auto& s : ibcm::fuzz::scenario_seeds()) {
    if (s.input.empty()) {
      std::fprintf(stderr, "fuzz_seeds: scenario %s not recorded: %s\n", s.name.c_str(),
                   s.why_not.c_str());
      std::exit(1);
    }
    put(dir, "scenario-" + s.name, s.input);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuzz_seeds VECTORS_DIR OUT_DIR\n");
    return 2;
  }
  const fs::path out = argv[2];
  for (const char* t : {"mad_decode", "roce_parse", "engine"}) fs::create_directories(out / t);
  from_captures(argv[1], out);
  encoded_messages(out);
  engine_scripts(out / "engine");
  scenarios(out / "engine");
  std::printf("fuzz_seeds: %d seed files in %s\n", written, out.c_str());
  return 0;
}
