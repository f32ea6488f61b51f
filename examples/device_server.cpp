// A CM server on an RDMA device: listens on rdma_cm port 7471, gives the connection that comes a
// real RC QP (the verbs binding), sends one message once it is established and prints the one it
// receives; then disconnects (DREQ, DREP) and exits 0. The client is device_client or any
// rdma_cm program that exchanges messages as rdma-core's ucmatose does (`ucmatose -s SERVER -C 1`
// answers each message it receives and waits for the server to disconnect). The kernel CM must
// not be loaded on this node (ibcm takes its place).
//   device_server
#include "device.h"
#include "ibcm/wire/rdma_cm.h"

int main() {
  using namespace ibcm;
  example::Node node;
  if (!node.open("device_server")) return 2;
  Runtime& rt = *node.rt;
  ConnId conn = 0;
  bool disconnecting = false, disconnected = false;
  auto finish = [&](Cm& cm, Time now) {  // once both messages are through
    if (!node.sent || !node.received) return;
    if (disconnected) return rt.stop();
    if (!disconnecting && cm.disconnect(now, conn)) node.qps->flush(conn);  // DREQ
    disconnecting = true;
  };
  rt.on_event([&](Cm& cm, Time now, const Event& e) {
    std::printf("%s conn=0x%x\n", std::string(event_name(e)).c_str(), event_conn(e));
    // The QP follows the connection: RTS once established, ERR when it ends.
    if (auto r = node.qps->on_event(cm, e); !r) (void)verbs::answer(cm, now, r.error());
    if (auto* req = std::get_if<ev::ReqReceived>(&e)) {
      if (conn != 0) return (void)cm.reject(now, req->conn, wire::RejReason::ConsumerDefined);
      verbs::QpOptions qo;  // in INIT, with the REQ's path MTU and partition
      qo.peer_mtu = req->req.path_mtu, qo.pkey = req->req.partition_key;
      qo.responder_resources = 1;
      auto qp = node.qps->create(qo);
      if (!qp) return (void)cm.reject(now, req->conn, qp.error().reason);  // REJ 1: no QP
      conn = req->conn;
      node.qps->attach(qp->qpn, conn);
      if (!node.post_receive(node.qps->find(conn)->qp)) node.ok = false;
      AcceptParams rep;
      rep.qpn = qp->qpn, rep.psn = qp->psn, rep.responder_resources = rep.initiator_depth = 1;
      if (auto r = node.qps->ready_to_receive(cm, conn, rep); !r)  // RTR before the REP
        return (void)verbs::answer(cm, now, r.error());
      (void)cm.accept(now, conn, rep);
    } else if (std::holds_alternative<ev::Established>(e)) {
      if (!node.post_send(node.qps->find(conn)->qp, "hello from ibcm's device_server"))
        node.ok = false;
    } else if (std::holds_alternative<ev::DreqReceived>(e)) {  // the client ended it first
      (void)cm.send_drep(now, conn);
      disconnected = true;
      finish(cm, now);
    } else if (std::holds_alternative<ev::DrepReceived>(e) ||
               std::holds_alternative<ev::DreqTimeout>(e)) {
      disconnected = true;
      finish(cm, now);
    } else if (std::holds_alternative<ev::RejReceived>(e) ||
               std::holds_alternative<ev::RepTimeout>(e)) {
      node.ok = false;
      rt.stop();
    }
  });
  rt.watch(node.qps->completion_fd(), [&](Cm& cm, Time now) {
    if (node.take_completions()) finish(cm, now);
  });
  if (!rt.cm().listen(wire::rdma_cm::service_id(wire::rdma_cm::PortSpace::TCP, example::kPort)))
    return 2;
  std::printf("listening on port %u\n", example::kPort);
  std::fflush(stdout);  // a script waiting for the server reads this line
  return rt.run() && node.ok && node.received ? 0 : 1;
}
