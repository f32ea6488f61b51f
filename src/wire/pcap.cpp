#include "ibcm/wire/pcap.h"

#include <fstream>
#include <iterator>

namespace ibcm::wire::pcap {

namespace {
constexpr uint32_t kMagicUsec = 0xa1b2c3d4;
constexpr uint32_t kMagicNsec = 0xa1b23c4d;

uint32_t rd32(const uint8_t* p, bool swap) {
  uint32_t v = uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
  return swap ? __builtin_bswap32(v) : v;
}
void put32(std::FILE* f, uint32_t v) {
  uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
  std::fwrite(b, 1, 4, f);
}
}  // namespace

Expected<std::vector<Record>, std::string> read_bytes(std::span<const uint8_t> file) {
  if (file.size() < 24) return Unexpected{std::string("not a pcap file (too short)")};
  uint32_t magic = rd32(file.data(), false);
  bool swap = false, nsec = false;
  if (magic == kMagicUsec) {
  } else if (magic == kMagicNsec) {
    nsec = true;
  } else if (__builtin_bswap32(magic) == kMagicUsec) {
    swap = true;
  } else if (__builtin_bswap32(magic) == kMagicNsec) {
    swap = nsec = true;
  } else {
    return Unexpected{std::string("not a classic pcap file (bad magic)")};
  }
  // Another major version would be another format; refuse it rather than misread the records.
  uint32_t major = swap ? (uint32_t{file[4]} << 8 | file[5]) : (uint32_t{file[5]} << 8 | file[4]);
  if (major != 2) return Unexpected{"pcap version " + std::to_string(major) + " is not 2"};
  uint32_t link = rd32(file.data() + 20, swap);
  if (link != kLinkTypeEthernet)
    return Unexpected{"link type " + std::to_string(link) + " is not Ethernet"};
  std::vector<Record> out;
  size_t off = 24;
  while (off + 16 <= file.size()) {
    const uint8_t* h = file.data() + off;
    uint64_t sec = rd32(h, swap), frac = rd32(h + 4, swap);
    uint32_t incl = rd32(h + 8, swap), orig = rd32(h + 12, swap);
    off += 16;
    if (incl > file.size() - off) return Unexpected{std::string("truncated record")};
    Record r;
    r.time_ns = sec * 1000000000ull + (nsec ? frac : frac * 1000);
    r.data.assign(file.begin() + off, file.begin() + off + incl);
    r.original_length = orig;
    out.push_back(std::move(r));
    off += incl;
  }
  if (off != file.size()) return Unexpected{std::string("truncated record header")};
  return out;
}

Expected<std::vector<Record>, std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unexpected{"cannot open " + path};
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  return read_bytes(bytes);
}

Writer::~Writer() {
  close();
}

std::string Writer::open(const std::string& path) {
  close();
  f_ = std::fopen(path.c_str(), "wb");
  if (!f_) return "cannot create " + path;
  put32(f_, kMagicUsec);
  uint8_t ver[4] = {2, 0, 4, 0};
  std::fwrite(ver, 1, 4, f_);
  put32(f_, 0);      // thiszone
  put32(f_, 0);      // sigfigs
  put32(f_, 65535);  // snaplen
  put32(f_, kLinkTypeEthernet);
  std::fflush(f_);
  return {};
}

void Writer::write(uint64_t time_ns, std::span<const uint8_t> frame) {
  if (!f_) return;
  put32(f_, static_cast<uint32_t>(time_ns / 1000000000ull));
  put32(f_, static_cast<uint32_t>(time_ns % 1000000000ull / 1000));
  put32(f_, static_cast<uint32_t>(frame.size()));
  put32(f_, static_cast<uint32_t>(frame.size()));
  std::fwrite(frame.data(), 1, frame.size(), f_);
  std::fflush(f_);
}

void Writer::close() {
  if (f_) std::fclose(f_);
  f_ = nullptr;
}

}  // namespace ibcm::wire::pcap
