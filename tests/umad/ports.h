// Ports for the umad tests: RoCE ports with soft-RoCE's GID tables, InfiniBand ports by LID.
#pragma once

#include <gtest/gtest.h>

#include "fake_umad.h"
#include "ibcm/umad/umad_transport.h"

namespace ibcm::umad::test {

// fe80::n (GID 0, link-local) and ::ffff:198.51.100.n (GID 1), as rxe sets them up.
inline std::vector<wire::Gid> roce_gids(uint8_t n) {
  wire::Gid ll{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, n};
  wire::Gid v4{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, n};
  return {ll, v4};
}
// fe80::2:c903:0:n, the port GID of an InfiniBand port in the default subnet.
inline wire::Gid ib_gid(uint8_t n) {
  return {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x02, 0xc9, 0x03, 0, 0, 0, n};
}

inline LocalPort roce_port(uint8_t n) {
  LocalPort l;
  l.device = "rxe0";
  l.port = 1;
  l.link_layer = LinkLayer::Ethernet;
  l.gid_index = 1;
  l.gid = roce_gids(n)[1];
  l.pkeys = {0xFFFF};
  return l;
}
inline LocalPort ib_port(uint8_t n, uint16_t lid) {
  LocalPort l;
  l.device = "mlx5_0";
  l.port = 1;
  l.link_layer = LinkLayer::InfiniBand;
  l.lid = lid;
  l.gid = ib_gid(n);
  l.pkeys = {0xFFFF, 0x8001};
  return l;
}

// A transport over a fake port: registration must succeed.
inline std::unique_ptr<UmadTransport> open_on(const std::shared_ptr<FakePortState>& s,
                                              const LocalPort& local) {
  auto t = UmadTransport::open(open_fake(s), local);
  EXPECT_TRUE(t.has_value()) << (t ? "" : t.error().message);
  return t ? std::move(t.value()) : nullptr;
}

// A CM MAD from a peer as its MAD layer delivers it.
inline UmadMad mad_from(const wire::Gid& sgid, uint8_t method = 0x03) {
  UmadMad m;
  m.length = 256;
  m.mad[0] = 1;
  m.mad[1] = 0x07;
  m.mad[2] = 2;
  m.mad[3] = method;
  m.mad[17] = 0x10;  // REQ
  m.addr.qpn = 1;
  m.addr.grh_present = true;
  m.addr.gid = sgid;
  m.addr.gid_index = 1;
  m.addr.hop_limit = 64;
  return m;
}

}  // namespace ibcm::umad::test
