/// @file
/// How a REQ is filled the way the Linux rdma_cm does for RoCEv2, so Linux peers accept it (the
/// CLI's connect and sidr, and the daemon's rdma_connect).
#pragma once

#include <array>
#include <span>

#include "ibcm/api.h"
#include "ibcm/engine/params.h"
#include "ibcm/transport/ip_address.h"
#include "ibcm/wire/rdma_cm.h"

IBCM_API_BEGIN

namespace ibcm {

/// Writes the 36-byte rdma_cm private-data header for a message from local to remote.
void write_rdma_cm_header(const IpEndpoint& local, const IpEndpoint& remote, uint16_t src_port,
                          std::span<uint8_t> out);

/// One address of an rdma_cm header, h.src_addr or h.dst_addr, with `port`, as an endpoint (the
/// passive side's view of a SIDR_REQ: the header is all that names its IP addresses).
IpEndpoint header_endpoint(const wire::rdma_cm::Header& h, const wire::Gid& addr, uint16_t port);

/// REQ parameters for an rdma_cm connection from `local` (its port src_port) to `remote` on TCP
/// port `port`, with the rdma_cm private-data header followed by user_data (<= 56 bytes).
ConnectParams rdma_cm_connect_params(const IpEndpoint& local, const IpEndpoint& remote,
                                     uint16_t port, uint16_t src_port, uint32_t qpn, uint32_t psn,
                                     std::span<const uint8_t> user_data,
                                     std::array<uint8_t, 92>& pd_storage);

}  // namespace ibcm

IBCM_API_END
