// Classic pcap files (microsecond timestamps, link type Ethernet), read and written.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "ibcm/result.h"

namespace ibcm::wire::pcap {

constexpr uint32_t kLinkTypeEthernet = 1;

struct Record {
  uint64_t time_ns = 0;       // capture time, nanoseconds since the epoch (or run start)
  std::vector<uint8_t> data;  // the frame as captured
  uint32_t original_length = 0;
};

// Reads a whole file. Accepts both byte orders and the nanosecond variant; only Ethernet link type.
Expected<std::vector<Record>, std::string> read_file(const std::string& path);
Expected<std::vector<Record>, std::string> read_bytes(std::span<const uint8_t> file);

// Writes records as they come; the file is valid after every write (flushed on close).
class Writer {
 public:
  Writer() = default;
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  // Returns an error message, or empty on success.
  std::string open(const std::string& path);
  void write(uint64_t time_ns, std::span<const uint8_t> frame);
  void close();
  bool is_open() const { return f_ != nullptr; }

 private:
  std::FILE* f_ = nullptr;
};

}  // namespace ibcm::wire::pcap
