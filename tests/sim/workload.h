// Workloads shared by the simulator tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ibcm/sim/consumer.h"
#include "ibcm/sim/fabric.h"
#include "ibcm/wire/mad.h"

namespace ibcm::sim::test {

using namespace std::chrono_literals;

constexpr NodeId A = 0, B = 1, C = 2, D = 3;
constexpr uint64_t kService = 0x0000000001060000ull | 4791;  // rdma_cm TCP port 4791

// Node 0 connects to every other node once; the others accept. Each connection is torn down
// 10 ms after it is established.
struct StarRun {
  explicit StarRun(const FabricConfig& fc) : fabric(fc) {
    AutoPolicy sp;
    sp.listen = {kService};
    server = AutoConsumer(sp);
    for (NodeId n = 1; n < fabric.size(); ++n) server.attach(fabric, n);
    AutoPolicy cp;
    cp.disconnect_after = 10ms;
    client = AutoConsumer(cp);
    client.attach(fabric, A);
  }
  Stop run(Time limit = 120s) {
    for (NodeId n = 1; n < fabric.size(); ++n) client.connect(fabric, A, n, kService);
    return fabric.run_until_idle(limit);
  }
  Fabric fabric;
  AutoConsumer server, client;
};

inline FabricConfig config(size_t nodes, uint64_t seed, LinkParams link = {}) {
  FabricConfig fc;
  fc.nodes = nodes;
  fc.seed = seed;
  fc.link = link;
  return fc;
}

// A DREQ naming no connection: the receiver answers it with a DREP and keeps no state, which
// makes it a stateless probe of the link.
inline wire::MadBytes stray_dreq(uint32_t i) {
  wire::Dreq d;
  d.local_comm_id = 0x10000 + i;
  d.remote_comm_id = 0x20000 + i;
  d.remote_qpn = 0x42;
  return wire::encode(wire::make_mad(d, 0x1000 + i));
}

inline std::string slurp(const std::string& path) {
  std::string out;
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

}  // namespace ibcm::sim::test
