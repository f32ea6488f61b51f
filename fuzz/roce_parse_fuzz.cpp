// libFuzzer target for the RoCEv2 frame parser and the MAD codec behind it. Any input must parse
// or fail cleanly (ASan catches stray reads); what parses must rebuild to a packet that parses
// to the same datagram with a good ICRC; a MAD that decodes must survive encode -> decode.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "ibcm/wire/mad.h"
#include "ibcm/wire/roce.h"

using namespace ibcm::wire;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

bool same_datagram(const roce::Datagram& a, const roce::Datagram& b) {
  // flow_label and ip_id exist in one IP version only; a packet parsed as IPv6 with two
  // IPv4-mapped addresses is rebuilt as IPv4, so they are not compared.
  return a.src_gid == b.src_gid && a.dst_gid == b.dst_gid && a.src_port == b.src_port &&
         a.dst_port == b.dst_port && a.bth.opcode == b.bth.opcode &&
         a.bth.solicited == b.bth.solicited && a.bth.mig_req == b.bth.mig_req &&
         a.bth.tver == b.bth.tver && a.bth.pkey == b.bth.pkey && a.bth.fecn == b.bth.fecn &&
         a.bth.becn == b.bth.becn && a.bth.dest_qp == b.bth.dest_qp &&
         a.bth.ack_req == b.bth.ack_req && a.bth.psn == b.bth.psn && a.deth.qkey == b.deth.qkey &&
         a.deth.src_qp == b.deth.src_qp && a.payload.size() == b.payload.size() &&
         std::equal(a.payload.begin(), a.payload.end(), b.payload.begin());
}

void check_mad(std::span<const uint8_t> payload) {
  auto mad = decode(payload);
  if (!mad) return;
  MadBytes once = encode(*mad);
  auto again = decode(once);
  require(again.has_value());
  require(*again == *mad);
  require(encode(*again) == once);
}

void check(const ibcm::Expected<roce::Parsed, roce::ParseError>& p,
           std::span<const uint8_t> input) {
  if (!p) return;
  const auto& d = p->dgram;
  require(d.payload.data() >= input.data() &&
          d.payload.data() + d.payload.size() <= input.data() + input.size());
  require(p->icrc_ok == (p->icrc == p->icrc_computed));

  static uint8_t buf[1 << 16];
  size_t n = roce::build_ip_packet(d, buf);
  if (n > 0) {
    auto q = roce::parse_ip_packet({buf, n});
    require(q.has_value());
    require(q->icrc_ok);
    require(same_datagram(q->dgram, d));
  }
  check_mad(d.payload);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> input(data, size);
  check(roce::parse_ethernet_frame(input), input);
  check(roce::parse_ip_packet(input), input);
  // The MAD codec on its own, so the fuzzer need not find a valid ICRC path to reach it.
  check_mad(input);
  return 0;
}
