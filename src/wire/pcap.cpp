#include "ibcm/wire/pcap.h"

#include <cerrno>
#include <cstring>
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
void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> 8 * i);
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

std::string Writer::fail(const char* what) {
  if (error_.empty()) error_ = std::string(what) + " " + path_ + ": " + std::strerror(errno);
  return error_;
}

std::string Writer::open(const std::string& path) {
  close();
  path_ = path;
  error_.clear();
  f_ = std::fopen(path.c_str(), "wb");
  if (!f_) return "cannot create " + path + ": " + std::strerror(errno);
  uint8_t header[24];
  put32(header, kMagicUsec);
  put32(header + 4, 2 | 4 << 16);  // version 2.4
  put32(header + 8, 0);            // thiszone
  put32(header + 12, 0);           // sigfigs
  put32(header + 16, 65535);       // snaplen
  put32(header + 20, kLinkTypeEthernet);
  if (std::fwrite(header, 1, sizeof header, f_) != sizeof header || std::fflush(f_) != 0) {
    std::string err = fail("cannot write");
    close();
    return err;
  }
  return {};
}

std::string Writer::write(uint64_t time_ns, std::span<const uint8_t> frame) {
  if (!error_.empty()) return error_;
  if (!f_) return "pcap writer is not open";
  uint8_t header[16];
  put32(header, static_cast<uint32_t>(time_ns / 1000000000ull));
  put32(header + 4, static_cast<uint32_t>(time_ns % 1000000000ull / 1000));
  put32(header + 8, static_cast<uint32_t>(frame.size()));
  put32(header + 12, static_cast<uint32_t>(frame.size()));
  if (std::fwrite(header, 1, sizeof header, f_) != sizeof header ||
      std::fwrite(frame.data(), 1, frame.size(), f_) != frame.size() || std::fflush(f_) != 0)
    return fail("cannot write");
  return {};
}

std::string Writer::close() {
  if (f_ && std::fclose(f_) != 0) fail("cannot close");
  f_ = nullptr;
  return error_;
}

}  // namespace ibcm::wire::pcap
