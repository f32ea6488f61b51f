// A run as a classic RoCEv2 capture, so Wireshark and `ibcm decode` read simulated runs like
// real ones.
#include <array>

#include "ibcm/sim/trace.h"
#include "ibcm/wire/pcap.h"
#include "ibcm/wire/roce.h"

namespace ibcm::sim {

std::string write_pcap(const Trace& t, const std::string& path) {
  wire::pcap::Writer w;
  if (std::string err = w.open(path); !err.empty()) return err;
  std::array<uint8_t, wire::roce::kMaxFrameSize> frame{};
  for (size_t i = 0; i < t.mads.size(); ++i) {
    const MadRecord& r = t.mads[i];
    if (r.fate == Fate::Unroutable) continue;
    wire::roce::Datagram d;
    d.src_gid = r.from_address.gid;
    d.dst_gid = r.to_address.gid;
    // Distinct per copy, so a duplicate is told apart from the original by IP ID and PSN.
    d.ip_id = static_cast<uint16_t>(i);
    d.bth.psn = static_cast<uint32_t>(i) & 0xFFFFFF;
    d.bth.pkey = r.to_address.pkey;
    d.bth.dest_qp = r.to_address.qpn;
    d.deth.src_qp = r.from_address.qpn;
    d.payload = r.bytes;
    const size_t n = wire::roce::build_ethernet_frame(d, frame);
    if (n == 0) return "frame does not fit";
    if (std::string err =
            w.write(static_cast<uint64_t>(r.sent.count()), std::span(frame.data(), n));
        !err.empty())
      return err;
  }
  return w.close();
}

}  // namespace ibcm::sim
