// The MADs of a flood: a REQ or SIDR_REQ for `service` from nobody in particular (random comm ID,
// CA GUID, QPN, request ID and transaction ID), as tests/engine/flood_test.cpp and
// tests/transport/udp_flood_test.cpp send them by the million.
#pragma once

#include <cstdint>
#include <random>

#include "ibcm/wire/mad.h"

namespace ibcm::test {

inline wire::MadBytes forged_mad(std::mt19937_64& rng, uint64_t service, bool sidr) {
  if (sidr) {
    wire::SidrReq r;
    r.request_id = static_cast<uint32_t>(rng());
    r.service_id = service;
    return wire::encode(wire::make_mad(r, rng()));
  }
  wire::Req r;
  r.local_comm_id = static_cast<uint32_t>(rng());
  r.local_ca_guid = rng();
  r.local_qpn = static_cast<uint32_t>(rng() & 0xFFFFFF) | 1;
  r.service_id = service;
  r.path_mtu = wire::Mtu::Mtu1024;
  r.primary.local_ack_timeout = 17;
  r.remote_cm_response_timeout = 20;
  r.local_cm_response_timeout = 20;
  r.max_cm_retries = 15;
  return wire::encode(wire::make_mad(r, rng()));
}

}  // namespace ibcm::test
