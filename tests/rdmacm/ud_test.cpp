// RDMA_PS_UDP IDs between the test process (node A) and the peer program (node B), no QP on
// either side: rdma_connect sends SIDR_REQ, rdma_accept and rdma_reject answer with SIDR_REP, and
// each side's events carry rdma_ud_param as the kernel's rdma_cm fills it (cma_sidr_rep_handler,
// cma_ib_req_handler): ESTABLISHED with the peer's QP number, Q_Key and address handle on the
// active side, nothing more on the passive side; UNREACHABLE with the SIDR status otherwise.
#include <gtest/gtest.h>

#include <string_view>

#include "rdmacm/program_fixture.h"

namespace ibcm::rdmacm::test {
namespace {

// SIDR_REP statuses as UNREACHABLE's status (IBTA Table 118; ib_cm_sidr_status).
constexpr int kSidrUnsupported = 1;
constexpr int kSidrReject = 2;

class Ud : public ProgramTest {
 protected:
  // A UD ID here, its address and route resolved to 127.0.0.1:port.
  rdma_cm_id* resolved_ud(uint16_t port) {
    rdma_cm_id* id = new_id(ch_, nullptr, RDMA_PS_UDP);
    if (id) resolve(id, port);
    return id;
  }
  // A UD ID here that has sent its SIDR_REQ to 127.0.0.1:port (null, and a failure, if it could
  // not).
  rdma_cm_id* connecting_ud(uint16_t port, std::string_view private_data = "") {
    rdma_cm_id* id = resolved_ud(port);
    rdma_conn_param p = no_qp(0x1800 + port, private_data);
    if (!id || HasFatalFailure() || rdma_connect(id, &p) != 0) {
      ADD_FAILURE() << "rdma_connect to " << port << ": errno " << errno;
      return nullptr;
    }
    return id;
  }
  // The peer connects a UD ID to our listener on `port`: whether its SIDR_REQ went.
  static bool peer_connects_ud(PeerProcess& peer, uint16_t port, const std::string& hex = "-") {
    return peer.ready() && peer.ask("ps udp") == "ok" &&
           peer.connect(port, std::to_string(0x1800 + port), hex);
  }
  // The peer listens for UD IDs on `port`: whether it said ok.
  static bool peer_listens_ud(PeerProcess& peer, uint16_t port) {
    return peer.ready() && peer.ask("ps udp") == "ok" &&
           peer.ask("listen " + std::to_string(port)) == "ok";
  }
};

// Active here: the peer's CONNECT_REQUEST has our private data after the header and names no QP
// yet; its rdma_accept makes ESTABLISHED here with its QP number, rdma_cm's Q_Key
// (RDMA_UDP_QKEY), its private data, and the address handle to reach it (a GRH to its GID, on
// RoCE). No RTU, and nothing to disconnect: rdma_disconnect says 0 and no event follows.
TEST_F(Ud, ConnectAcceptedEstablished) {
  PeerProcess peer(nodes().b->socket());
  ASSERT_TRUE(peer_listens_ud(peer, 8101));
  std::string pd = "hello over UD";
  rdma_cm_id* id = connecting_ud(8101, pd);
  ASSERT_NE(id, nullptr);
  EXPECT_EQ(id->qp_type, IBV_QPT_UD);
  std::string req = peer.ask("event");
  ASSERT_EQ(event_name(req), "RDMA_CM_EVENT_CONNECT_REQUEST") << req;
  EXPECT_EQ(field(req, "status"), "0");
  EXPECT_EQ(field(req, "listen"), "1");
  EXPECT_EQ(field(req, "qpn"), "0");
  EXPECT_EQ(field(req, "qkey"), "0");
  EXPECT_EQ(field(req, "pd"), padded_hex(pd, kSidrReqUser));

  ASSERT_EQ(peer.ask("accept 0x2801 " + hex("welcome, datagram")), "ok");
  EventPtr e = expect_event(RDMA_CM_EVENT_ESTABLISHED, id);
  ASSERT_TRUE(e);
  const rdma_ud_param& ud = e->param.ud;
  EXPECT_EQ(ud.qp_num, 0x2801u);
  EXPECT_EQ(ud.qkey, static_cast<uint32_t>(RDMA_UDP_QKEY));
  EXPECT_EQ(hex(ud.private_data, ud.private_data_len), padded_hex("welcome, datagram", kSidrRep));
  EXPECT_EQ(ud.ah_attr.is_global, 1);
  EXPECT_EQ(hex(ud.ah_attr.grh.dgid.raw, 16), "00000000000000000000ffff7f000001");
  EXPECT_EQ(ud.ah_attr.grh.hop_limit, 64);
  e.reset();

  ASSERT_EQ(rdma_disconnect(id), 0) << "errno " << errno;
  ASSERT_EQ(peer.ask("disconnect"), "ok");
  EXPECT_FALSE(event_waiting(ch_));
  EXPECT_EQ(peer.quit(), 0);
}

// Passive here: CONNECT_REQUEST on a new UD ID with the peer's private data; our rdma_accept
// answers at once (librdmacm does not wait for anything on UD), and the peer is ESTABLISHED with
// our QP number and the Q_Key. Nothing more comes here.
TEST_F(Ud, RequestAcceptedHere) {
  rdma_cm_id* listener = listen_on(8102, RDMA_PS_UDP);
  ASSERT_NE(listener, nullptr);
  PeerProcess peer(nodes().b->socket());
  ASSERT_TRUE(peer_connects_ud(peer, 8102, hex("who serves 8102?")));
  EventPtr e = take_request();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->listen_id, listener);
  EXPECT_EQ(e->id->qp_type, IBV_QPT_UD);
  EXPECT_EQ(e->id->ps, RDMA_PS_UDP);
  EXPECT_EQ(e->param.ud.qp_num, 0u);
  EXPECT_EQ(hex(e->param.ud.private_data, e->param.ud.private_data_len),
            padded_hex("who serves 8102?", kSidrReqUser));
  rdma_cm_id* conn = e->id;
  e.reset();
  rdma_conn_param p = no_qp(0x2802, "I do");
  ASSERT_EQ(rdma_accept(conn, &p), 0) << "errno " << errno;
  std::string est = peer.ask("event");
  EXPECT_EQ(event_name(est), "RDMA_CM_EVENT_ESTABLISHED") << est;
  EXPECT_EQ(field(est, "status"), "0");
  EXPECT_EQ(field(est, "qpn"), std::to_string(0x2802));
  EXPECT_EQ(field(est, "qkey"), "1234567");
  EXPECT_EQ(field(est, "global"), "1");
  EXPECT_EQ(field(est, "pd"), padded_hex("I do", kSidrRep));
  EXPECT_FALSE(event_waiting(ch_));
  EXPECT_EQ(peer.quit(), 0);
}

// rdma_reject(3) on a UD request is a SIDR_REP that says REJECT: UNREACHABLE here with that
// status (2) and the peer's private data.
TEST_F(Ud, RejectedIsUnreachable) {
  PeerProcess peer(nodes().b->socket());
  ASSERT_TRUE(peer_listens_ud(peer, 8103));
  rdma_cm_id* id = connecting_ud(8103);
  ASSERT_NE(id, nullptr);
  ASSERT_EQ(event_name(peer.ask("event")), "RDMA_CM_EVENT_CONNECT_REQUEST");
  ASSERT_EQ(peer.ask("reject " + hex("not you")), "ok");
  EventPtr e = expect_event(RDMA_CM_EVENT_UNREACHABLE, id, kSidrReject);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param.ud.qp_num, 0u);
  EXPECT_EQ(hex(e->param.ud.private_data, e->param.ud.private_data_len),
            padded_hex("not you", kSidrRep));
  EXPECT_EQ(peer.quit(), 0);
}

// Nobody listens on the port: the peer's CM answers that it has no such service (status 1).
TEST_F(Ud, NoListenerUnreachable) {
  rdma_cm_id* id = connecting_ud(8104);
  ASSERT_NE(id, nullptr);
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_UNREACHABLE, id, kSidrUnsupported));
}

// A UD ID's port is its own port space's: a TCP listener on the same port does not answer it.
TEST_F(Ud, TcpListenerDoesNotServeUdp) {
  ASSERT_NE(listen_on(8105), nullptr);
  rdma_cm_id* id = connecting_ud(8105);
  ASSERT_NE(id, nullptr);
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_UNREACHABLE, id, kSidrUnsupported));
}

// A request whose ID the program destroys unanswered is rejected for it, as the kernel's CM
// does: the peer is not left to time out.
TEST_F(Ud, DestroyedRequestRejected) {
  ASSERT_NE(listen_on(8106, RDMA_PS_UDP), nullptr);
  PeerProcess peer(nodes().b->socket());
  ASSERT_TRUE(peer_connects_ud(peer, 8106));
  rdma_cm_id* conn = take_request_id();
  ASSERT_NE(conn, nullptr);
  ASSERT_EQ(destroy(conn), 0);
  std::string un = peer.ask("event");
  EXPECT_EQ(event_name(un), "RDMA_CM_EVENT_UNREACHABLE") << un;
  EXPECT_EQ(field(un, "status"), std::to_string(kSidrReject));
  EXPECT_EQ(peer.quit(), 0);
}

// rdma_init_qp_attr(3) on a UD ID gives INIT with rdma_cm's Q_Key and no access flags
// (cma_ib_init_qp_attr); rdma_disconnect before any SIDR has nothing to act on (EINVAL); private
// data beyond the SIDR_REQ's room fails EINVAL.
TEST_F(Ud, QpAttributesAndLimits) {
  rdma_cm_id* id = resolved_ud(8107);
  ASSERT_NE(id, nullptr);
  ibv_qp_attr attr{};
  attr.qp_state = IBV_QPS_INIT;
  int mask = 0;
  ASSERT_EQ(rdma_init_qp_attr(id, &attr, &mask), 0) << "errno " << errno;
  EXPECT_EQ(attr.qkey, static_cast<uint32_t>(RDMA_UDP_QKEY));
  EXPECT_EQ(mask, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_QKEY);
  errno = 0;
  EXPECT_EQ(rdma_disconnect(id), -1);
  EXPECT_EQ(errno, EINVAL);
  std::string too_long(kSidrReqUser + 1, 'x');
  rdma_conn_param p = no_qp(0x1807, too_long);
  errno = 0;
  EXPECT_EQ(rdma_connect(id, &p), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_FALSE(event_waiting(ch_));
}

}  // namespace
}  // namespace ibcm::rdmacm::test
