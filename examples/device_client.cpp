// A CM client on an RDMA device: connects a real RC QP (the verbs binding) to rdma_cm port 7471
// at SERVER, sends one message once established and prints the one it receives; answers the
// server's DREQ and exits 0. The server is device_server or any rdma_cm program that exchanges
// messages as rdma-core's ucmatose does (`ucmatose -C 1` sends, waits for the answer and
// disconnects). The kernel CM must not be loaded on this node (ibcm takes its place).
//   device_client SERVER        SERVER: the server's IP address (its RoCE v2 GID)
#include <array>

#include "device.h"
#include "ibcm/transport/rdma_cm_params.h"

int main(int argc, char** argv) {
  using namespace ibcm;
  auto server = argc > 1 ? parse_endpoint(argv[1], 0) : std::nullopt;
  if (!server) {
    std::fprintf(stderr, "usage: device_client SERVER_IP\n");
    return 2;
  }
  example::Node node;
  if (!node.open("device_client")) return 2;
  Runtime& rt = *node.rt;
  ConnId conn = 0;
  bool disconnected = false;
  auto finish = [&] {  // both messages through, the server's DREQ answered
    if (node.sent && node.received && disconnected) rt.stop();
  };
  rt.on_event([&](Cm& cm, Time now, const Event& e) {
    std::printf("%s conn=0x%x\n", std::string(event_name(e)).c_str(), event_conn(e));
    // The QP follows the connection: RTR and RTS on the REP, ERR when it ends.
    if (auto r = node.qps->on_event(cm, e); !r) (void)verbs::answer(cm, now, r.error());
    if (auto* rep = std::get_if<ev::RepReceived>(&e)) {
      (void)cm.send_rtu(now, rep->conn);
    } else if (std::holds_alternative<ev::Established>(e)) {
      if (!node.post_send(node.qps->find(conn)->qp, "hello from ibcm's device_client"))
        node.ok = false;
    } else if (std::holds_alternative<ev::DreqReceived>(e)) {
      (void)cm.send_drep(now, conn);
      disconnected = true;
      finish();
    } else if (std::holds_alternative<ev::RejReceived>(e) ||
               std::holds_alternative<ev::ReqTimeout>(e)) {
      node.ok = false;
      rt.stop();
    }
  });
  rt.watch(node.qps->completion_fd(), [&](Cm&, Time) {
    if (node.take_completions()) finish();
  });
  std::array<uint8_t, 92> private_data;
  (void)rt.post([&](Cm& cm, Time now) {
    verbs::QpOptions qo;  // in INIT; its QPN, starting PSN and MTU go into the REQ
    qo.responder_resources = 1;
    auto qp = node.qps->create(qo);
    if (!qp || !node.post_receive(node.qps->find_qpn(qp->qpn)->qp)) {
      node.ok = false;
      return rt.stop();
    }
    uint16_t src_port = 0x8000 | (qp->qpn & 0x7fff);  // rdma_cm's header names a source port
    ConnectParams req = rdma_cm_connect_params(node.local, *server, example::kPort, src_port,
                                               qp->qpn, qp->psn, {}, private_data);
    req.dest = address_of(*server), req.mtu = qp->mtu;
    auto c = cm.connect(now, req);
    if (!c) {
      node.ok = false;
      return rt.stop();
    }
    conn = *c;
    node.qps->attach(qp->qpn, conn);
  });
  return rt.run() && node.ok && node.received ? 0 : 1;
}
