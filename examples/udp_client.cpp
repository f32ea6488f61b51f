// A CM client over MAD-over-UDP: connects to udp_server, completes the handshake (REQ, REP,
// RTU), disconnects (DREQ, DREP) and exits 0; 1 if the server rejects it or does not answer.
//   udp_client [SERVER] [LOCAL]   default 127.0.0.1:7471 and 127.0.0.1 (any free port)
#include <cstdio>
#include <string>

#include "ibcm/transport/runtime.h"
#include "ibcm/transport/udp_transport.h"

int main(int argc, char** argv) {
  using namespace ibcm;
  auto server = parse_endpoint(argc > 1 ? argv[1] : "127.0.0.1", 7471);
  auto local = parse_endpoint(argc > 2 ? argv[2] : "127.0.0.1", 0);
  if (!server || !local) return 2;
  auto transport = UdpTransport::open(*local);
  if (!transport) {
    std::fprintf(stderr, "udp_client: %s\n", transport.error().c_str());
    return 1;
  }

  Config config;  // the local address comes from the transport
  config.ca_guid = 0xa, config.seed = 1;
  Runtime rt(config, std::move(*transport));
  int status = 1;
  rt.on_event([&](Cm& cm, Time now, const Event& e) {
    std::printf("%s conn=0x%x\n", std::string(event_name(e)).c_str(), event_conn(e));
    if (auto* rep = std::get_if<ev::RepReceived>(&e)) {
      (void)cm.send_rtu(now, rep->conn);
    } else if (std::holds_alternative<ev::Established>(e)) {
      (void)cm.disconnect(now, event_conn(e));
    } else if (std::holds_alternative<ev::DrepReceived>(e)) {
      status = 0;
      rt.stop();
    } else if (std::holds_alternative<ev::RejReceived>(e) ||
               std::holds_alternative<ev::ReqTimeout>(e)) {
      rt.stop();
    }
  });
  (void)rt.post([&](Cm& cm, Time now) {
    ConnectParams req;
    req.service_id = 0x1234, req.dest = address_of(*server), req.qpn = 0x11;
    if (!cm.connect(now, req)) rt.stop();
  });
  return rt.run() ? status : 1;
}
