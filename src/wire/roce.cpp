#include "ibcm/wire/roce.h"

#include <array>
#include <cstring>

#include "bits.h"

namespace ibcm::wire::roce {

namespace {

// CRC-32 (reflected 0x04C11DB7) sliced by 8: table k gives the CRC of a byte followed by k zero
// bytes, so eight table lookups fold in eight bytes at once (a ~300-byte RoCE MAD is about 40
// steps instead of 300; the ICRC was an eighth of the RoCE benchmark's time bytewise).
using CrcTables = std::array<std::array<uint32_t, 256>, 8>;
constexpr CrcTables make_crc_tables() {
  CrcTables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (size_t k = 1; k < 8; ++k)
    for (uint32_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
  return t;
}
constexpr CrcTables kCrc = make_crc_tables();

// Little-endian 32-bit words: the CRC's byte order, in which the ICRC is also carried.
uint32_t load_le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
void store_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint32_t crc_update(uint32_t crc, const uint8_t* p, size_t n) {
  for (; n >= 8; n -= 8, p += 8) {
    const uint32_t lo = crc ^ load_le32(p), hi = load_le32(p + 4);
    crc = kCrc[7][lo & 0xff] ^ kCrc[6][(lo >> 8) & 0xff] ^ kCrc[5][(lo >> 16) & 0xff] ^
          kCrc[4][lo >> 24] ^ kCrc[3][hi & 0xff] ^ kCrc[2][(hi >> 8) & 0xff] ^
          kCrc[1][(hi >> 16) & 0xff] ^ kCrc[0][hi >> 24];
  }
  for (; n > 0; --n, ++p) crc = kCrc[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
  return crc;
}

uint16_t ipv4_checksum(const uint8_t* h) {
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += uint32_t{h[i]} << 8 | h[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

constexpr size_t kUdpSize = 8;

}  // namespace

std::string_view to_string(ParseError e) {
  switch (e) {
    case ParseError::Truncated:
      return "truncated";
    case ParseError::NotIp:
      return "not IPv4 or IPv6";
    case ParseError::NotUdp:
      return "not UDP (or IPv4 options / fragment)";
    case ParseError::NotRoce:
      return "not UDP port 4791";
    case ParseError::BadLength:
      return "IP/UDP length mismatch";
    case ParseError::NotUd:
      return "BTH opcode is not UD SEND only";
  }
  return "?";
}

bool is_ipv4_mapped(const Gid& g) {
  for (int i = 0; i < 10; ++i)
    if (g[i] != 0) return false;
  return g[10] == 0xff && g[11] == 0xff;
}

Gid ipv4_mapped_gid(const uint8_t addr[4]) {
  Gid g{};
  g[10] = g[11] = 0xff;
  std::memcpy(&g[12], addr, 4);
  return g;
}

uint32_t icrc(std::span<const uint8_t> pkt) {
  if (pkt.empty()) return 0;
  const size_t ip_len = (pkt[0] >> 4) == 4 ? 20 : (pkt[0] >> 4) == 6 ? 40 : 0;
  const size_t hl = ip_len + kUdpSize + kBthSize;
  if (ip_len == 0 || pkt.size() < hl) return 0;
  // The fields a router or switch may rewrite on the way (TOS/TTL/checksum, traffic class/flow
  // label/hop limit, UDP checksum, FECN/BECN) must not break the end-to-end check, so a copy of
  // the headers has them set to ones, behind 8 bytes of ones standing in for the IB LRH.
  uint8_t head[8 + 40 + kUdpSize + kBthSize];
  std::memset(head, 0xff, 8);
  std::memcpy(head + 8, pkt.data(), hl);
  uint8_t* ip = head + 8;
  if (ip_len == 20) {
    ip[1] = 0xff;
    ip[8] = 0xff;
    ip[10] = ip[11] = 0xff;
  } else {
    ip[0] |= 0x0f;
    ip[1] = ip[2] = ip[3] = 0xff;
    ip[7] = 0xff;
  }
  uint8_t* udp = ip + ip_len;
  udp[6] = udp[7] = 0xff;
  udp[kUdpSize + 4] = 0xff;
  uint32_t crc = crc_update(0xffffffffu, head, 8 + hl);
  crc = crc_update(crc, pkt.data() + hl, pkt.size() - hl);
  return ~crc;
}

size_t build_ip_packet(const Datagram& d, std::span<uint8_t> out) {
  bool v4 = is_ipv4_mapped(d.src_gid) && is_ipv4_mapped(d.dst_gid);
  size_t ip_len = v4 ? 20 : 40;
  // The BTH pad count is what makes the payload a whole number of 4-byte words; deriving it here
  // keeps build and parse inverse for any payload length.
  size_t pad = (4 - d.payload.size() % 4) % 4;
  size_t udp_len = kUdpSize + kBthSize + kDethSize + d.payload.size() + pad + kIcrcSize;
  size_t total = ip_len + udp_len;
  if (out.size() < total || total > 0xffff) return 0;
  uint8_t* p = out.data();
  std::memset(p, 0, ip_len + kUdpSize + kBthSize + kDethSize);
  if (v4) {
    p[0] = 0x45;
    p[1] = d.traffic_class;
    bits::put_be16(p + 2, static_cast<uint16_t>(total));
    bits::put_be16(p + 4, d.ip_id);
    bits::put_be16(p + 6, 0x4000);  // don't fragment
    p[8] = d.hop_limit;
    p[9] = 17;
    std::memcpy(p + 12, &d.src_gid[12], 4);
    std::memcpy(p + 16, &d.dst_gid[12], 4);
    bits::put_be16(p + 10, ipv4_checksum(p));
  } else {
    bits::put_be32(p, 0x60000000u | uint32_t{d.traffic_class} << 20 | (d.flow_label & 0xfffff));
    bits::put_be16(p + 4, static_cast<uint16_t>(udp_len));
    p[6] = 17;
    p[7] = d.hop_limit;
    std::memcpy(p + 8, d.src_gid.data(), 16);
    std::memcpy(p + 24, d.dst_gid.data(), 16);
  }
  uint8_t* u = p + ip_len;
  bits::put_be16(u, d.src_port);
  bits::put_be16(u + 2, d.dst_port);
  bits::put_be16(u + 4, static_cast<uint16_t>(udp_len));
  uint8_t* b = u + kUdpSize;
  const Bth& t = d.bth;
  b[0] = t.opcode;
  b[1] = static_cast<uint8_t>((t.solicited ? 0x80 : 0) | (t.mig_req ? 0x40 : 0) | pad << 4 |
                              (t.tver & 15));
  bits::put_be16(b + 2, t.pkey);
  b[4] = static_cast<uint8_t>((t.fecn ? 0x80 : 0) | (t.becn ? 0x40 : 0));
  bits::put_be32(b + 4, (uint32_t{b[4]} << 24) | (t.dest_qp & 0xffffff));
  bits::put_be32(b + 8, (t.ack_req ? 0x80000000u : 0) | (t.psn & 0xffffff));
  uint8_t* e = b + kBthSize;
  bits::put_be32(e, d.deth.qkey);
  bits::put_be32(e + 4, d.deth.src_qp & 0xffffff);
  uint8_t* pl = e + kDethSize;
  if (!d.payload.empty()) std::memcpy(pl, d.payload.data(), d.payload.size());
  std::memset(pl + d.payload.size(), 0, pad);
  uint32_t c = icrc({p, total - kIcrcSize});
  store_le32(pl + d.payload.size() + pad, c);
  return total;
}

size_t build_ethernet_frame(const Datagram& d, std::span<uint8_t> out) {
  if (out.size() < kEthernetSize) return 0;
  size_t n = build_ip_packet(d, out.subspan(kEthernetSize));
  if (n == 0) return 0;
  uint8_t* h = out.data();
  // Locally administered MACs derived from the addresses, so captures read naturally.
  h[0] = 0x02;
  h[1] = 0x00;
  std::memcpy(h + 2, &d.dst_gid[12], 4);
  h[6] = 0x02;
  h[7] = 0x00;
  std::memcpy(h + 8, &d.src_gid[12], 4);
  bool v4 = is_ipv4_mapped(d.src_gid) && is_ipv4_mapped(d.dst_gid);
  bits::put_be16(h + 12, v4 ? 0x0800 : 0x86dd);
  return n + kEthernetSize;
}

Expected<Parsed, ParseError> parse_ip_packet(std::span<const uint8_t> pkt) {
  auto fail = [](ParseError e) { return Unexpected{e}; };
  if (pkt.empty()) return fail(ParseError::Truncated);
  Parsed r;
  Datagram& d = r.dgram;
  size_t ip_len, total;
  int version = pkt[0] >> 4;
  if (version == 4) {
    if (pkt.size() < 20) return fail(ParseError::Truncated);
    if ((pkt[0] & 15) != 5) return fail(ParseError::NotUdp);
    if (pkt[9] != 17) return fail(ParseError::NotUdp);
    if ((bits::be16(&pkt[6]) & 0x3fff) != 0) return fail(ParseError::NotUdp);
    ip_len = 20;
    total = bits::be16(&pkt[2]);
    if (total < ip_len || total > pkt.size()) return fail(ParseError::BadLength);
    d.traffic_class = pkt[1];
    d.hop_limit = pkt[8];
    d.ip_id = bits::be16(&pkt[4]);
    d.src_gid = ipv4_mapped_gid(&pkt[12]);
    d.dst_gid = ipv4_mapped_gid(&pkt[16]);
  } else if (version == 6) {
    if (pkt.size() < 40) return fail(ParseError::Truncated);
    if (pkt[6] != 17) return fail(ParseError::NotUdp);
    ip_len = 40;
    total = 40 + size_t{bits::be16(&pkt[4])};
    if (total > pkt.size()) return fail(ParseError::BadLength);
    uint32_t w = bits::be32(&pkt[0]);
    d.traffic_class = static_cast<uint8_t>(w >> 20);
    d.flow_label = w & 0xfffff;
    d.hop_limit = pkt[7];
    std::memcpy(d.src_gid.data(), &pkt[8], 16);
    std::memcpy(d.dst_gid.data(), &pkt[24], 16);
  } else {
    return fail(ParseError::NotIp);
  }
  if (total < ip_len + kUdpSize) return fail(ParseError::Truncated);
  const uint8_t* u = pkt.data() + ip_len;
  d.src_port = bits::be16(u);
  d.dst_port = bits::be16(u + 2);
  if (d.dst_port != kUdpPort) return fail(ParseError::NotRoce);
  size_t udp_len = bits::be16(u + 4);
  if (udp_len != total - ip_len) return fail(ParseError::BadLength);
  if (udp_len < kUdpSize + kBthSize + kIcrcSize) return fail(ParseError::Truncated);
  const uint8_t* b = u + kUdpSize;
  Bth& t = d.bth;
  t.opcode = b[0];
  t.solicited = b[1] & 0x80;
  t.mig_req = b[1] & 0x40;
  t.pad_count = (b[1] >> 4) & 3;
  t.tver = b[1] & 15;
  t.pkey = bits::be16(b + 2);
  t.fecn = b[4] & 0x80;
  t.becn = b[4] & 0x40;
  t.dest_qp = bits::be32(b + 4) & 0xffffff;
  t.ack_req = b[8] & 0x80;
  t.psn = bits::be32(b + 8) & 0xffffff;
  if (t.opcode != kOpUdSendOnly) return fail(ParseError::NotUd);
  if (udp_len < kUdpSize + kBthSize + kDethSize + kIcrcSize) return fail(ParseError::Truncated);
  const uint8_t* e = b + kBthSize;
  d.deth.qkey = bits::be32(e);
  d.deth.src_qp = bits::be32(e + 4) & 0xffffff;
  size_t payload_len = udp_len - kUdpSize - kBthSize - kDethSize - kIcrcSize;
  if (t.pad_count > payload_len) return fail(ParseError::BadLength);
  d.payload = std::span<const uint8_t>(e + kDethSize, payload_len - t.pad_count);
  const uint8_t* ic = e + kDethSize + payload_len;
  r.icrc = load_le32(ic);
  r.icrc_computed = icrc(pkt.first(total - kIcrcSize));
  r.icrc_ok = r.icrc_computed == r.icrc;
  return r;
}

Expected<Parsed, ParseError> parse_ethernet_frame(std::span<const uint8_t> frame) {
  if (frame.size() < kEthernetSize) return Unexpected{ParseError::Truncated};
  size_t off = 12;
  uint16_t type = bits::be16(&frame[off]);
  if (type == 0x8100) {  // one VLAN tag
    if (frame.size() < kEthernetSize + 4) return Unexpected{ParseError::Truncated};
    off += 4;
    type = bits::be16(&frame[off]);
  }
  if (type != 0x0800 && type != 0x86dd) return Unexpected{ParseError::NotIp};
  auto ip = frame.subspan(off + 2);
  // An IP version that contradicts the EtherType is not a packet any stack would accept.
  if (!ip.empty() && (ip[0] >> 4) != (type == 0x0800 ? 4 : 6)) return Unexpected{ParseError::NotIp};
  return parse_ip_packet(ip);
}

}  // namespace ibcm::wire::roce
