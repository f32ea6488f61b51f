// The engine in your own event loop: two CMs in one process, and a loop of yours that carries each
// MAD from one to the other and answers the events. A real program hands poll_transmit()'s bytes
// to its MAD I/O and feeds what arrives to handle_mad(); the engine never does I/O or reads a
// clock.
#include <cstdio>
#include <string>

#include "ibcm/engine/cm.h"

int main() {
  using namespace ibcm;
  Config ca, cb;  // two CA ports; a real one knows its GID and CA GUID, and seeds at random
  ca.ca_guid = ca.seed = ca.local.gid[15] = 1;
  cb.ca_guid = cb.seed = cb.local.gid[15] = 2;
  Cm a(ca), b(cb);
  Time now{0};
  b.listen(0x106);
  ConnectParams req;  // our QP (the consumer owns QPs), where the REQ goes, for which service
  req.qpn = 0x11, req.dest = cb.local, req.service_id = 0x106;
  AcceptParams rep;
  rep.qpn = 0x22;
  ConnId conn = *a.connect(now, req);
  for (int round = 0; round < 4; ++round, now += std::chrono::microseconds(10)) {
    for (auto [cm, peer] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
      cm->handle_timeout(now);  // retries and TIMEWAIT run on your clock
      while (auto t = cm->poll_transmit()) peer->handle_mad(now, cm->config().local, t->mad);
      while (auto e = cm->poll_event()) {
        std::printf("%c %s\n", cm == &a ? 'A' : 'B', std::string(event_name(*e)).c_str());
        if (auto* r = std::get_if<ev::ReqReceived>(&*e)) cm->accept(now, r->conn, rep);
        if (auto* r = std::get_if<ev::RepReceived>(&*e)) cm->send_rtu(now, r->conn);
      }
    }
  }
  return a.state(conn) == State::Established ? 0 : 1;
}
