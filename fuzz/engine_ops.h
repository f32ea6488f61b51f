// The input format of engine_fuzz: a sequence of fixed-size records, one byte naming the
// operation and then exactly kArgBytes[op] argument bytes (reads past the end of the input give
// zeros). An all-zero argument record means the sensible default (node A, the newest connection,
// the first service ID, no private data), so scripted seeds are short to write (fuzz/seeds.cpp).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

namespace ibcm::fuzz {

enum class Op : uint8_t {
  // The network between the two CMs: the MAD in flight at (arg0 % count) from the oldest.
  Deliver,
  Drop,
  Duplicate,  // deliver a copy, keep the original in flight
  Reorder,    // move it to the back
  Mutate,     // set one schema field (arg1) to a value (arg2..9), then deliver
  FlipByte,   // xor byte arg1 with arg2, then deliver
  // MADs from outside: raw bytes, or a message of a random type with fields from a seed and the
  // identifiers (comm IDs, QPNs, GUIDs, service IDs, TIDs) from those the run has seen.
  InjectRaw,
  InjectMessage,
  // Time.
  Advance,    // by an amount of a kind (arg0)
  RunTimers,  // to the earliest timer of either CM
  Reboot,     // a node loses all state (a new Cm with another seed)
  // The consumer API.
  Listen,
  Unlisten,
  Connect,
  Accept,
  Reject,
  SendMra,
  SendRtu,
  Establish,
  Disconnect,
  SendDrep,
  LoadAlternatePath,
  SendApr,
  Migrate,
  SidrRequest,
  SidrReply,
  Destroy,
  Query,
  kCount,
};

// The service IDs and QPNs that argument bytes select from (modulo their count).
constexpr uint64_t kServices[] = {0x1234, 0x0000000001061c06 /* rdma_cm TCP 7174 */,
                                  0x0000000001111c06 /* rdma_cm UDP 7174 */, 0x1235};
constexpr uint32_t kQpns[] = {0x100, 0x101, 0x200, 0x201, 0x123, 0, 0x1000000};

constexpr size_t kMadBytes = 256;
constexpr std::array<uint16_t, static_cast<size_t>(Op::kCount)> kArgBytes = {
    1,              // Deliver: [index]
    1,              // Drop
    1,              // Duplicate
    1,              // Reorder
    10,             // Mutate: [index][field][value u64]
    3,              // FlipByte: [index][position][xor]
    2 + kMadBytes,  // InjectRaw: [node|from][length][bytes]
    16,             // InjectMessage: [node|from][type][seed u64][pools][id][qpn][tid][method][sel]
    5,              // Advance: [kind][amount u32]
    0,              // RunTimers
    1,              // Reboot: [node]
    3,              // Listen: [node][service][mask]
    2,              // Unlisten: [node][listener]
    12,             // Connect: [node|flags][qpn][service][pd][retries][plt][resp][ack][psn u32]
    8,              // Accept: [node][conn][qpn][pd][flags][psn u24]
    5,              // Reject: [node][conn][reason][ari][pd]
    4,              // SendMra: [node][conn][timeout][pd]
    3,              // SendRtu: [node][conn][pd]
    2,              // Establish: [node][conn]
    3,              // Disconnect: [node][conn][pd]
    3,              // SendDrep: [node][conn][pd]
    4,              // LoadAlternatePath: [node][conn][path][pd]
    5,              // SendApr: [node][conn][status][info][pd]
    2,              // Migrate: [node][conn]
    4,              // SidrRequest: [node|flags][service][pd][pkey]
    6,              // SidrReply: [node][sidr][status][qpn][info][pd]
    2,              // Destroy: [node][conn]
    3,              // Query: [node][conn][qp state]
};

struct Record {
  Op op;
  std::array<uint8_t, 2 + kMadBytes> arg{};  // zero-padded to the longest record
  uint8_t u8(size_t i) const { return arg[i]; }
  uint32_t u32(size_t i) const {
    return uint32_t{arg[i]} << 24 | uint32_t{arg[i + 1]} << 16 | uint32_t{arg[i + 2]} << 8 |
           arg[i + 3];
  }
  uint64_t u64(size_t i) const { return uint64_t{u32(i)} << 32 | u32(i + 4); }
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  bool done() const { return pos_ >= in_.size(); }
  Record next() {
    Record r;
    r.op = static_cast<Op>(byte() % static_cast<uint8_t>(Op::kCount));
    for (size_t i = 0; i < kArgBytes[static_cast<size_t>(r.op)]; ++i) r.arg[i] = byte();
    return r;
  }

 private:
  uint8_t byte() { return pos_ < in_.size() ? in_[pos_++] : 0; }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

// Builds inputs for the seed corpus: each op with the given leading argument bytes, the rest zero.
class Writer {
 public:
  Writer& op(Op o, std::initializer_list<uint8_t> args = {}) {
    return op(o, std::span<const uint8_t>(args.begin(), args.size()));
  }
  Writer& op(Op o, std::span<const uint8_t> args) {
    out_.push_back(static_cast<uint8_t>(o));
    const size_t n = kArgBytes[static_cast<size_t>(o)];
    for (size_t i = 0; i < n; ++i) out_.push_back(i < args.size() ? args[i] : 0);
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return out_; }

 private:
  std::vector<uint8_t> out_;
};

}  // namespace ibcm::fuzz
