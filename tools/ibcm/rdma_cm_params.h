// How the CLI fills a REQ the way the Linux rdma_cm does for RoCEv2, so Linux peers accept it.
#pragma once

#include "ibcm/engine/params.h"
#include "ibcm/transport/ip_address.h"

namespace ibcm::cli {

// REQ parameters for an rdma_cm connection from `local` to `remote` on TCP port `port`, with the
// rdma_cm private-data header followed by user_data (<= 56 bytes).
ConnectParams rdma_cm_connect_params(const IpEndpoint& local, const IpEndpoint& remote,
                                     uint16_t port, uint32_t qpn, uint32_t psn,
                                     std::span<const uint8_t> user_data,
                                     std::array<uint8_t, 92>& pd_storage);

}  // namespace ibcm::cli
