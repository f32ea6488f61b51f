// A CM server over MAD-over-UDP (no RDMA device, no privileges): listens on service 0x1234,
// accepts the connection that comes and answers its disconnect, then exits. The runtime owns the
// loop (epoll, timers); the Cm is used from its thread, in the event handler.
//   udp_server [LOCAL]      LOCAL: ADDR[:PORT], default 127.0.0.1:7471 (port 0: any free port)
#include <cstdio>
#include <string>

#include "ibcm/transport/runtime.h"
#include "ibcm/transport/udp_transport.h"

int main(int argc, char** argv) {
  using namespace ibcm;
  auto local = parse_endpoint(argc > 1 ? argv[1] : "127.0.0.1", 7471);
  if (!local) return 2;
  auto transport = UdpTransport::open(*local);
  if (!transport) {
    std::fprintf(stderr, "udp_server: %s\n", transport.error().c_str());
    return 1;
  }
  std::printf("listening on %s\n", (*transport)->endpoint().to_string().c_str());
  std::fflush(stdout);  // a script waiting for the port reads this line

  Config config;  // the local address comes from the transport
  config.ca_guid = 0xb, config.seed = 2;
  Runtime rt(config, std::move(*transport));
  if (!rt.cm().listen(0x1234)) return 1;
  rt.on_event([&](Cm& cm, Time now, const Event& e) {
    std::printf("%s conn=0x%x\n", std::string(event_name(e)).c_str(), event_conn(e));
    if (auto* req = std::get_if<ev::ReqReceived>(&e)) {
      AcceptParams rep;
      rep.qpn = 0x22, rep.psn = 0x100;  // our QP and the PSN it expects first
      (void)cm.accept(now, req->conn, rep);
    } else if (auto* dreq = std::get_if<ev::DreqReceived>(&e)) {
      (void)cm.send_drep(now, dreq->conn);
      rt.stop();  // the DREP is sent before run() returns
    }
  });
  return rt.run() ? 0 : 1;
}
