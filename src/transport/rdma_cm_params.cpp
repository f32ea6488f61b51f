#include "ibcm/transport/rdma_cm_params.h"

#include <algorithm>
#include <cstring>

#include "ibcm/wire/rdma_cm.h"

namespace ibcm {

void write_rdma_cm_header(const IpEndpoint& local, const IpEndpoint& remote, uint16_t src_port,
                          std::span<uint8_t> out) {
  wire::rdma_cm::Header h;
  h.ip_version = local.is_v4() ? 4 : 6;
  h.src_port = src_port;
  wire::Gid lg = gid_of(local), rg = gid_of(remote);
  if (local.is_v4()) {  // IPv4 sits in the last 4 bytes, the first 12 zero
    std::copy(lg.begin() + 12, lg.end(), h.src_addr.begin() + 12);
    std::copy(rg.begin() + 12, rg.end(), h.dst_addr.begin() + 12);
  } else {
    h.src_addr = lg;
    h.dst_addr = rg;
  }
  wire::rdma_cm::encode_header(h, out.first<wire::rdma_cm::kHeaderSize>());
}

IpEndpoint header_endpoint(const wire::rdma_cm::Header& h, const wire::Gid& addr, uint16_t port) {
  wire::Gid g = addr;
  if (h.ip_version == 4) {  // the IPv4-mapped GID of the address in the last 4 bytes
    std::fill_n(g.begin(), 10, 0);
    g[10] = g[11] = 0xFF;
  }
  return endpoint_of(g, port);
}

ConnectParams rdma_cm_connect_params(const IpEndpoint& local, const IpEndpoint& remote,
                                     uint16_t port, uint16_t src_port, uint32_t qpn, uint32_t psn,
                                     std::span<const uint8_t> user_data,
                                     std::array<uint8_t, 92>& pd) {
  ConnectParams p;
  p.service_id = wire::rdma_cm::service_id(wire::rdma_cm::PortSpace::TCP, port);
  p.qpn = qpn;
  p.psn = psn;
  pd.fill(0);
  write_rdma_cm_header(local, remote, src_port, pd);
  wire::Gid lg = gid_of(local), rg = gid_of(remote);
  size_t n = std::min(user_data.size(), wire::rdma_cm::kMaxReqUserData);
  std::copy_n(user_data.begin(), n, pd.begin() + 36);  // memcpy from an empty span is UB
  p.private_data = std::span<const uint8_t>(pd.data(), 36 + n);

  // The path as Linux's rdma_cm fills it for RoCEv2: GIDs are the IP addresses, LIDs 0xFFFF
  // (permissive), hop limit 64, not subnet-local, a non-zero flow label.
  p.primary.local_gid = lg;
  p.primary.remote_gid = rg;
  p.primary.local_lid = 0xFFFF;
  p.primary.remote_lid = 0xFFFF;
  p.primary.hop_limit = 64;
  p.primary.subnet_local = false;
  p.primary.flow_label = 0x10000 | (qpn & 0xFFFF);
  p.primary.packet_rate = 0;
  p.primary.local_ack_timeout = 19;
  p.mtu = wire::Mtu::Mtu1024;
  p.responder_resources = 1;
  p.initiator_depth = 1;
  p.retry_count = 7;
  p.rnr_retry_count = 7;
  p.packet_life_time = 16;  // rdma_cm's RoCE packet lifetime
  p.remote_cm_response_timeout = 20;
  p.max_cm_retries = 15;
  return p;
}

}  // namespace ibcm
