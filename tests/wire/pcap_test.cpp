// Classic pcap: what the writer puts on disk, and reading every header variant the format allows.
#include "ibcm/wire/pcap.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace ibcm::wire;

namespace {

// A file name unique to this test run, removed when the test ends, pass or fail.
class TempFile {
 public:
  TempFile() {
    char name[] = "/tmp/ibcm-pcap-test-XXXXXX";
    int fd = mkstemp(name);
    if (fd >= 0) {
      close(fd);
      path_ = name;
    }
  }
  ~TempFile() {
    if (!path_.empty()) std::remove(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::vector<uint8_t> bytes() const {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

 private:
  std::string path_;
};

void put32(std::vector<uint8_t>& out, uint32_t v, bool big_endian) {
  for (int i = 0; i < 4; ++i) {
    int shift = big_endian ? 24 - 8 * i : 8 * i;
    out.push_back(static_cast<uint8_t>(v >> shift));
  }
}
void put16(std::vector<uint8_t>& out, uint16_t v, bool big_endian) {
  out.push_back(static_cast<uint8_t>(big_endian ? v >> 8 : v));
  out.push_back(static_cast<uint8_t>(big_endian ? v : v >> 8));
}

// A file as another tool would write it: either byte order, micro- or nanosecond stamps.
std::vector<uint8_t> synth(bool big_endian, bool nsec, uint32_t link = 1, uint16_t major = 2) {
  std::vector<uint8_t> f;
  put32(f, nsec ? 0xa1b23c4d : 0xa1b2c3d4, big_endian);
  put16(f, major, big_endian);
  put16(f, 4, big_endian);
  put32(f, 0, big_endian);
  put32(f, 0, big_endian);
  put32(f, 262144, big_endian);
  put32(f, link, big_endian);
  const uint32_t frac = nsec ? 123456789 : 123456;
  for (uint32_t i = 0; i < 2; ++i) {
    put32(f, 1795526073 + i, big_endian);
    put32(f, frac, big_endian);
    put32(f, 3 + i, big_endian);   // captured
    put32(f, 60 + i, big_endian);  // on the wire
    for (uint32_t k = 0; k < 3 + i; ++k) f.push_back(static_cast<uint8_t>(0x10 * (i + 1) + k));
  }
  return f;
}

}  // namespace

TEST(Pcap, WriteThenReadBackThroughAFile) {
  TempFile tmp;
  ASSERT_FALSE(tmp.path().empty());
  std::vector<uint8_t> a(60, 1), b(322, 2);
  b[0] = 0x52;
  b[321] = 0x99;
  {
    pcap::Writer w;
    EXPECT_FALSE(w.is_open());
    ASSERT_EQ(w.open(tmp.path()), "");
    EXPECT_TRUE(w.is_open());
    EXPECT_EQ(w.write(1'500'000'000, a), "");
    // Nanoseconds below a microsecond are dropped.
    EXPECT_EQ(w.write(1'795'526'073'017'382'999, b), "");
    // Readable before close: every write is flushed.
    auto early = pcap::read_file(tmp.path());
    ASSERT_TRUE(early.has_value()) << early.error();
    EXPECT_EQ(early->size(), 2u);
    EXPECT_EQ(w.close(), "");
  }
  auto recs = pcap::read_file(tmp.path());
  ASSERT_TRUE(recs.has_value()) << recs.error();
  ASSERT_EQ(recs->size(), 2u);
  EXPECT_EQ((*recs)[0].data, a);
  EXPECT_EQ((*recs)[1].data, b);
  EXPECT_EQ((*recs)[0].time_ns, 1'500'000'000u);
  EXPECT_EQ((*recs)[1].time_ns, 1'795'526'073'017'382'000u);
  EXPECT_EQ((*recs)[0].original_length, 60u);
  EXPECT_EQ((*recs)[1].original_length, 322u);

  // The global header other tools expect: little-endian microsecond magic, version 2.4,
  // Ethernet link type.
  auto bytes = tmp.bytes();
  ASSERT_GE(bytes.size(), 24u);
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 8),
            (std::vector<uint8_t>{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0}));
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin() + 20, bytes.begin() + 24),
            (std::vector<uint8_t>{1, 0, 0, 0}));
  EXPECT_EQ(bytes.size(), 24u + 16 + 60 + 16 + 322);
}

TEST(Pcap, WriterRefusesWritesWhenClosedAndReportsOpenFailures) {
  pcap::Writer w;
  EXPECT_EQ(w.write(1, std::vector<uint8_t>(4, 0)), "pcap writer is not open");
  const std::string err = w.open("/nonexistent-dir/x.pcap");
  EXPECT_EQ(err.rfind("cannot create /nonexistent-dir/x.pcap: ", 0), 0u) << err;
  EXPECT_FALSE(w.is_open());
  TempFile tmp;
  ASSERT_EQ(w.open(tmp.path()), "");
  EXPECT_EQ(w.close(), "");
  EXPECT_FALSE(w.is_open());
  auto recs = pcap::read_file(tmp.path());
  ASSERT_TRUE(recs.has_value());
  EXPECT_TRUE(recs->empty());
}

// /dev/full takes the open but no byte: the file header cannot be written.
TEST(Pcap, OpenOnAFullDeviceIsAnError) {
  pcap::Writer w;
  const std::string err = w.open("/dev/full");
  EXPECT_EQ(err, "cannot write /dev/full: " + std::string(std::strerror(ENOSPC)));
  EXPECT_FALSE(w.is_open());
  EXPECT_EQ(w.write(1, std::vector<uint8_t>(60, 0)), err);
}

// The disk fills up after the first record: /dev/full put in place of the writer's file (its
// descriptor found in /proc/self/fd by the file's path). That write fails, and so does every
// later one and close(), with the same message; the file keeps the good record.
TEST(Pcap, AFailedWriteFailsTheWriter) {
  TempFile tmp;
  ASSERT_FALSE(tmp.path().empty());
  pcap::Writer w;
  ASSERT_EQ(w.open(tmp.path()), "");
  ASSERT_EQ(w.write(1'000, std::vector<uint8_t>(60, 1)), "");
  int fd = -1;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(e.path(), ec) == tmp.path())
      fd = std::stoi(e.path().filename().string());
  }
  ASSERT_GE(fd, 0) << "the writer's descriptor is not in /proc/self/fd";
  const int full = ::open("/dev/full", O_WRONLY);
  ASSERT_GE(full, 0);
  ASSERT_EQ(::dup2(full, fd), fd);
  ::close(full);

  const std::string err = w.write(2'000, std::vector<uint8_t>(60, 2));
  EXPECT_EQ(err, "cannot write " + tmp.path() + ": " + std::strerror(ENOSPC));
  EXPECT_EQ(w.write(3'000, std::vector<uint8_t>(60, 3)), err);
  EXPECT_EQ(w.close(), err);
  auto recs = pcap::read_file(tmp.path());
  ASSERT_TRUE(recs.has_value()) << recs.error();
  ASSERT_EQ(recs->size(), 1u);
  EXPECT_EQ((*recs)[0].data, std::vector<uint8_t>(60, 1));
}

TEST(Pcap, ReadsBothByteOrdersAndBothTimestampResolutions) {
  for (bool big : {false, true}) {
    for (bool nsec : {false, true}) {
      auto recs = pcap::read_bytes(synth(big, nsec));
      ASSERT_TRUE(recs.has_value()) << big << nsec << ": " << recs.error();
      ASSERT_EQ(recs->size(), 2u);
      uint64_t frac_ns = nsec ? 123456789 : 123456000;
      EXPECT_EQ((*recs)[0].time_ns, 1795526073ull * 1'000'000'000 + frac_ns);
      EXPECT_EQ((*recs)[1].time_ns, 1795526074ull * 1'000'000'000 + frac_ns);
      EXPECT_EQ((*recs)[0].data, (std::vector<uint8_t>{0x10, 0x11, 0x12}));
      EXPECT_EQ((*recs)[1].data, (std::vector<uint8_t>{0x20, 0x21, 0x22, 0x23}));
      EXPECT_EQ((*recs)[0].original_length, 60u);
      EXPECT_EQ((*recs)[1].original_length, 61u);
    }
  }
}

TEST(Pcap, MalformedFilesAreErrorsNotCrashes) {
  EXPECT_FALSE(pcap::read_bytes({}).has_value());
  EXPECT_FALSE(pcap::read_bytes(std::vector<uint8_t>(23, 0)).has_value());
  auto bad_magic = synth(false, false);
  bad_magic[0] ^= 1;
  EXPECT_FALSE(pcap::read_bytes(bad_magic).has_value());
  auto raw_ip = pcap::read_bytes(synth(false, false, 101));  // LINKTYPE_RAW
  ASSERT_FALSE(raw_ip.has_value());
  EXPECT_NE(raw_ip.error().find("101"), std::string::npos);
  EXPECT_FALSE(pcap::read_bytes(synth(true, false, 1, 1)).has_value());
  // Every cut inside the records is reported (a cut exactly between records is a shorter file).
  auto good = synth(false, true);
  for (size_t n = 24; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + n);
    auto r = pcap::read_bytes(cut);
    bool boundary = n == 24 || n == 24 + 16 + 3;
    EXPECT_EQ(r.has_value(), boundary) << n;
  }
  // A record claiming more bytes than the file holds, near the 32-bit limit.
  auto huge = synth(false, false);
  huge[24 + 8] = huge[24 + 9] = huge[24 + 10] = huge[24 + 11] = 0xff;
  EXPECT_FALSE(pcap::read_bytes(huge).has_value());
  auto missing = pcap::read_file("/nonexistent.pcap");
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().find("cannot open"), std::string::npos);
}

TEST(Pcap, ReadsTheLinuxVectors) {
  auto recs = pcap::read_file(std::string(IBCM_VECTORS_DIR) + "/linux61-req-rep-rtu.pcap");
  ASSERT_TRUE(recs.has_value()) << recs.error();
  ASSERT_EQ(recs->size(), 3u);
  for (const auto& r : *recs) {
    EXPECT_EQ(r.data.size(), 322u);
    EXPECT_EQ(r.original_length, 322u);
  }
  EXPECT_LT((*recs)[0].time_ns, (*recs)[1].time_ns);
  // REP 33.5 ms after the REQ (pcap stamps: .902107 and .935631).
  EXPECT_EQ((*recs)[1].time_ns - (*recs)[0].time_ns, 33'524'000u);
}
