#include "ibcm/wire/rdma_cm.h"

#include <algorithm>

namespace ibcm::wire::rdma_cm {

std::optional<IpService> parse_service_id(uint64_t sid) {
  if (sid >> 32 != 0) return std::nullopt;
  auto ps = static_cast<uint16_t>(sid >> 16);
  for (PortSpace s : {PortSpace::IPoIB, PortSpace::TCP, PortSpace::UDP, PortSpace::IB})
    if (ps == static_cast<uint16_t>(s)) return IpService{s, static_cast<uint16_t>(sid)};
  return std::nullopt;
}

std::string_view to_string(HeaderError e) {
  switch (e) {
    case HeaderError::Short:
      return "private data shorter than the rdma_cm header";
    case HeaderError::BadVersion:
      return "rdma_cm header version is not 0";
    case HeaderError::BadIpVersion:
      return "IP version is neither 4 nor 6";
    case HeaderError::BadIpv4Padding:
      return "IPv4 address not in the last 4 bytes";
  }
  return "?";
}

void encode_header(const Header& h, std::span<uint8_t, kHeaderSize> out) {
  std::fill(out.begin(), out.end(), 0);
  out[0] = h.version;
  out[1] = static_cast<uint8_t>(h.ip_version << 4);
  out[2] = static_cast<uint8_t>(h.src_port >> 8);
  out[3] = static_cast<uint8_t>(h.src_port);
  std::copy(h.src_addr.begin(), h.src_addr.end(), out.begin() + 4);
  std::copy(h.dst_addr.begin(), h.dst_addr.end(), out.begin() + 20);
}

Expected<Header, HeaderError> decode_header(std::span<const uint8_t> pd) {
  if (pd.size() < kHeaderSize) return Unexpected{HeaderError::Short};
  Header h;
  h.version = pd[0];
  h.ip_version = pd[1] >> 4;
  h.src_port = static_cast<uint16_t>(pd[2] << 8 | pd[3]);
  std::copy(pd.begin() + 4, pd.begin() + 20, h.src_addr.begin());
  std::copy(pd.begin() + 20, pd.begin() + 36, h.dst_addr.begin());
  if (h.version != 0) return Unexpected{HeaderError::BadVersion};
  if (h.ip_version != 4 && h.ip_version != 6) return Unexpected{HeaderError::BadIpVersion};
  if (h.ip_version == 4) {
    auto zero = [](const std::array<uint8_t, 16>& a) {
      return std::all_of(a.begin(), a.begin() + 12, [](uint8_t b) { return b == 0; });
    };
    if (!zero(h.src_addr) || !zero(h.dst_addr)) return Unexpected{HeaderError::BadIpv4Padding};
  }
  return h;
}

}  // namespace ibcm::wire::rdma_cm
