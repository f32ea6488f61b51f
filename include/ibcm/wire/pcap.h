/// @file
/// Classic pcap files (microsecond timestamps, link type Ethernet), read and written.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/result.h"

IBCM_API_BEGIN

namespace ibcm::wire::pcap {

constexpr uint32_t kLinkTypeEthernet = 1;

struct Record {
  uint64_t time_ns = 0;       ///< capture time, nanoseconds since the epoch (or run start)
  std::vector<uint8_t> data;  ///< the frame as captured
  uint32_t original_length = 0;
};

/// Reads a whole file. Accepts both byte orders and the nanosecond variant; only Ethernet link
/// type.
Expected<std::vector<Record>, std::string> read_file(const std::string& path);
Expected<std::vector<Record>, std::string> read_bytes(std::span<const uint8_t> file);

/// Writes records as they come; the file is valid after every write (each is flushed). Each call
/// returns an error message, or empty on success. The first error that a write meets (a full
/// disk, say) fails the writer: the record may be cut short, so later writes write nothing and
/// return that error again, and so does close(). A caller may check each write or only close().
class Writer {
 public:
  Writer() = default;
  ~Writer();  ///< closes; call close() to learn whether everything was written
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  std::string open(const std::string& path);
  std::string write(uint64_t time_ns, std::span<const uint8_t> frame);
  /// The first error since open(), of a write or of closing the file; empty if none.
  std::string close();
  bool is_open() const { return f_ != nullptr; }

 private:
  std::string fail(const char* what);

  std::FILE* f_ = nullptr;
  std::string path_;
  std::string error_;
};

}  // namespace ibcm::wire::pcap

IBCM_API_END
