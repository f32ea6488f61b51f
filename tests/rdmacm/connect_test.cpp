// Connections between the test process (node A) and the peer program (node B) through the two
// daemons' engines, no QP on either side: the events each side gets, in order, with the status
// values and private data rdma_get_cm_event(3), rdma_connect(3), rdma_accept(3), rdma_reject(3)
// and rdma_disconnect(3) document.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>

#include "rdmacm/program_fixture.h"

namespace ibcm::rdmacm::test {
namespace {

// REJ reasons as RDMA_CM_EVENT_REJECTED's status (IBTA Table 112).
constexpr int kInvalidServiceId = 8;
constexpr int kConsumerReject = 28;

using Connect = ProgramTest;

// Active here, passive in the peer: CONNECT_REQUEST there with our private data after the rdma_cm
// header, CONNECT_RESPONSE here (no QP) with the REP's, ESTABLISHED there after rdma_establish;
// then rdma_disconnect on both sides: DISCONNECTED and TIMEWAIT_EXIT on each.
TEST_F(Connect, AcceptEstablishDisconnect) {
  PeerProcess peer(nodes().b->socket());
  rdma_cm_id* id = new_id();
  std::string pd = "hello from A";
  rdma_conn_param p = no_qp(0x1101, pd);
  p.responder_resources = 2;
  p.initiator_depth = 3;
  std::string req = request_to_peer(peer, 7101, id, p);
  ASSERT_EQ(event_name(req), "RDMA_CM_EVENT_CONNECT_REQUEST") << req;
  EXPECT_EQ(field(req, "status"), "0");
  EXPECT_EQ(field(req, "listen"), "1");  // listen_id is the peer's listener
  EXPECT_EQ(field(req, "qpn"), std::to_string(0x1101));
  EXPECT_EQ(field(req, "pd"), padded_hex(pd, kReqUser));
  // rdma_get_cm_event(3): the recipient's responder resources are our initiator depth, and its
  // initiator depth our responder resources.
  EXPECT_EQ(field(req, "rr"), "3");
  EXPECT_EQ(field(req, "depth"), "2");

  ASSERT_EQ(peer.ask("accept 0x2101 " + hex("welcome")), "ok");
  EventPtr e = expect_event(RDMA_CM_EVENT_CONNECT_RESPONSE, id);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->listen_id, nullptr);
  EXPECT_EQ(e->param.conn.qp_num, 0x2101u);
  EXPECT_EQ(private_hex(*e), padded_hex("welcome", kRep));
  e.reset();
  ASSERT_EQ(rdma_establish(id), 0) << "errno " << errno;
  EXPECT_EQ(event_name(peer.ask("event")), "RDMA_CM_EVENT_ESTABLISHED");

  // rdma_disconnect(3): DISCONNECTED on both sides, each when its peer's message comes (the
  // DREQ there, the DREP here), then TIMEWAIT_EXIT.
  ASSERT_EQ(rdma_disconnect(id), 0) << "errno " << errno;
  std::string dis = peer.ask("event");
  EXPECT_EQ(event_name(dis), "RDMA_CM_EVENT_DISCONNECTED");
  EXPECT_EQ(field(dis, "status"), "0");
  EXPECT_FALSE(event_waiting(ch_));  // ours waits for the DREP
  ASSERT_EQ(peer.ask("disconnect"), "ok");
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_DISCONNECTED, id));
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_TIMEWAIT_EXIT, id));
  EXPECT_EQ(event_name(peer.ask("event")), "RDMA_CM_EVENT_TIMEWAIT_EXIT");
  EXPECT_EQ(peer.quit(), 0);
}

// rdma_reject(3) with private data: REJECTED here, status 28 (the REJ's reason, consumer reject,
// as Linux's rdma_cm sends it), with the peer's private data.
TEST_F(Connect, RejectedWithPrivateData) {
  PeerProcess peer(nodes().b->socket());
  rdma_cm_id* id = new_id();
  std::string pd = "may I?";
  std::string req = request_to_peer(peer, 7201, id, no_qp(0x1201, pd));
  ASSERT_EQ(event_name(req), "RDMA_CM_EVENT_CONNECT_REQUEST") << req;
  ASSERT_EQ(peer.ask("reject " + hex("go away")), "ok");
  EventPtr e = expect_event(RDMA_CM_EVENT_REJECTED, id, kConsumerReject);
  ASSERT_TRUE(e);
  EXPECT_EQ(private_hex(*e), padded_hex("go away", kRej));
  EXPECT_EQ(peer.quit(), 0);
}

// A REQ for a port nobody listens on: the far engine answers REJ 8 (invalid service ID), as
// Linux's CM does, and the program gets REJECTED with status 8.
TEST_F(Connect, NobodyListensRejectedInvalidServiceId) {
  rdma_cm_id* id = new_id();
  ASSERT_NO_FATAL_FAILURE(resolve(id, 7301));
  rdma_conn_param p = no_qp(0x1301, "anyone?");
  ASSERT_EQ(rdma_connect(id, &p), 0) << "errno " << errno;
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_REJECTED, id, kInvalidServiceId));
}

// rdma_destroy_id on a connected ID ends the connection as the kernel's rdma_cm does: a DREQ,
// and the peer gets DISCONNECTED, then TIMEWAIT_EXIT once it has answered.
TEST_F(Connect, DestroyConnectedIdDisconnectsPeer) {
  PeerProcess peer(nodes().b->socket());
  rdma_cm_id* id = new_id();
  ASSERT_TRUE(connect_to_peer(peer, 7501, id, no_qp(0x1501, ""), "0x2501"));
  ASSERT_EQ(destroy(id), 0);
  std::string dis = peer.ask("event");
  EXPECT_EQ(event_name(dis), "RDMA_CM_EVENT_DISCONNECTED") << dis;
  EXPECT_EQ(field(dis, "status"), "0");
  ASSERT_EQ(peer.ask("disconnect"), "ok");
  EXPECT_EQ(event_name(peer.ask("event")), "RDMA_CM_EVENT_TIMEWAIT_EXIT");
  EXPECT_EQ(peer.quit(), 0);
}

// Passive here, active in the peer: CONNECT_REQUEST on our listener's channel names a new ID
// (listen_id: the listener), carries the peer's QP number and private data, and its addresses are
// the connection's; accept without a QP, the peer gets CONNECT_RESPONSE and establishes, we get
// ESTABLISHED. Then the peer is killed: its daemon ends its connection (DREQ), and we get
// DISCONNECTED, then TIMEWAIT_EXIT once we disconnect too.
TEST_F(Connect, PeerConnectsThenIsKilled) {
  int context = 0;
  rdma_cm_id* listener = new_id(ch_, &context);
  sockaddr_in addr = loopback(7401);
  ASSERT_EQ(rdma_bind_addr(listener, as_sockaddr(addr)), 0) << "errno " << errno;
  ASSERT_EQ(rdma_listen(listener, 4), 0) << "errno " << errno;

  PeerProcess peer(nodes().b->socket());
  ASSERT_TRUE(peer.connect(7401, "0x3401", hex("from B")));

  EventPtr e = take_request();
  ASSERT_TRUE(e);
  rdma_cm_id* conn = e->id;
  EXPECT_EQ(e->listen_id, listener);
  EXPECT_NE(conn, listener);
  EXPECT_EQ(conn->channel, ch_);
  EXPECT_EQ(conn->context, &context);  // the listener's, as librdmacm gives it
  EXPECT_EQ(conn->verbs, nullptr);     // no device named "ibcmtest0" opens
  EXPECT_EQ(e->param.conn.qp_num, 0x3401u);
  EXPECT_EQ(private_hex(*e), padded_hex("from B", kReqUser));
  EXPECT_EQ(rdma_get_src_port(conn), htons(7401));
  EXPECT_NE(rdma_get_dst_port(conn), 0);  // the peer's ephemeral port, from rdma_cm's header
  const auto* dst = reinterpret_cast<const sockaddr_in*>(&conn->route.addr.dst_addr);
  EXPECT_EQ(dst->sin_family, AF_INET);
  EXPECT_EQ(dst->sin_addr.s_addr, htonl(INADDR_LOOPBACK));

  rdma_conn_param p = no_qp(0x4401, "accepted");
  ASSERT_EQ(rdma_accept(conn, &p), 0) << "errno " << errno;
  e.reset();
  std::string resp = peer.ask("event");
  EXPECT_EQ(event_name(resp), "RDMA_CM_EVENT_CONNECT_RESPONSE") << resp;
  EXPECT_EQ(field(resp, "status"), "0");
  EXPECT_EQ(field(resp, "qpn"), std::to_string(0x4401));
  EXPECT_EQ(field(resp, "pd"), padded_hex("accepted", kRep));
  EXPECT_FALSE(event_waiting(ch_));  // no ESTABLISHED before the RTU
  ASSERT_EQ(peer.ask("establish"), "ok");
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_ESTABLISHED, conn));

  uint64_t ended = nodes().b->counters().ended_by_exit;
  peer.kill();
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_DISCONNECTED, conn));
  EXPECT_EQ(nodes().b->counters().ended_by_exit, ended + 1);
  ASSERT_EQ(rdma_disconnect(conn), 0) << "errno " << errno;  // the DREP
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_TIMEWAIT_EXIT, conn));
}

// rdma_notify(3) with IBV_EVENT_COMM_EST, as a program calls it when data reaches its QP before the
// RTU: the accepted connection is ESTABLISHED at once (the kernel's ib_cm_notify), not when the
// REP's retry brings the RTU; a second notify is EISCONN, and the RTU that comes later gives no
// second ESTABLISHED. Before a connection, and for an event the CM does not act on: EINVAL.
TEST_F(Connect, NotifyCommEstablishedBeforeTheRtu) {
  rdma_cm_id* listener = listen_on(7451);
  ASSERT_NE(listener, nullptr);
  EXPECT_EQ(rdma_notify(listener, IBV_EVENT_COMM_EST), -1);
  EXPECT_EQ(errno, EINVAL);

  PeerProcess peer(nodes().b->socket());
  ASSERT_TRUE(peer.connect(7451, "0x3451"));
  rdma_cm_id* conn = take_request_id();
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(rdma_notify(conn, IBV_EVENT_COMM_EST), -1);  // REQ_RCVD: nothing sent yet
  EXPECT_EQ(errno, EINVAL);
  rdma_conn_param p = no_qp(0x4451, "");
  ASSERT_EQ(rdma_accept(conn, &p), 0) << "errno " << errno;
  EXPECT_EQ(event_name(peer.ask("event")), "RDMA_CM_EVENT_CONNECT_RESPONSE");
  EXPECT_FALSE(event_waiting(ch_));

  EXPECT_EQ(rdma_notify(conn, IBV_EVENT_QP_FATAL), -1);
  EXPECT_EQ(errno, EINVAL);
  ASSERT_EQ(rdma_notify(conn, IBV_EVENT_COMM_EST), 0) << "errno " << errno;
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_ESTABLISHED, conn));
  EXPECT_EQ(rdma_notify(conn, IBV_EVENT_COMM_EST), -1);
  EXPECT_EQ(errno, EISCONN);

  ASSERT_EQ(peer.ask("establish"), "ok");  // its RTU, now to an ESTABLISHED connection
  ASSERT_EQ(rdma_disconnect(conn), 0) << "errno " << errno;
  EXPECT_EQ(event_name(peer.ask("event")), "RDMA_CM_EVENT_DISCONNECTED");
  ASSERT_EQ(peer.ask("disconnect"), "ok");
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_DISCONNECTED, conn));  // no ESTABLISHED before it
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_TIMEWAIT_EXIT, conn));
}

// rdma_listen(3)'s backlog, as the kernel's rdma_ucm keeps it: at most that many requests not yet
// read by the program. Past it the REQ is refused as the kernel refuses it (REJ 28, consumer
// defined: REJECTED with status 28 at the connecting side) and counted; reading one makes room.
TEST_F(Connect, ListenBacklogCountsRequestsNotYetRead) {
  rdma_cm_id* listener = new_id();
  sockaddr_in addr = loopback(7461);
  ASSERT_EQ(rdma_bind_addr(listener, as_sockaddr(addr)), 0) << "errno " << errno;
  ASSERT_EQ(rdma_listen(listener, 1), 0) << "errno " << errno;
  uint64_t refused = nodes().a->counters().reqs_over_backlog;

  PeerProcess first(nodes().b->socket());
  ASSERT_TRUE(first.connect(7461, "0x3461"));
  pollfd ready{ch_->fd, POLLIN, 0};
  ASSERT_EQ(::poll(&ready, 1, 5000), 1);  // its CONNECT_REQUEST waits here, unread

  PeerProcess second(nodes().b->socket());
  ASSERT_TRUE(second.connect(7461, "0x3462"));
  std::string rej = second.ask("event");
  EXPECT_EQ(event_name(rej), "RDMA_CM_EVENT_REJECTED") << rej;
  EXPECT_EQ(field(rej, "status"), std::to_string(kConsumerReject));
  EXPECT_EQ(nodes().a->counters().reqs_over_backlog, refused + 1);

  rdma_cm_id* one = take_request_id();  // read: room for one more, though not yet answered
  ASSERT_NE(one, nullptr);
  PeerProcess third(nodes().b->socket());
  ASSERT_TRUE(third.connect(7461, "0x3463"));
  EventPtr e = take_request();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param.conn.qp_num, 0x3463u);
  EXPECT_EQ(nodes().a->counters().reqs_over_backlog, refused + 1);
  ASSERT_EQ(rdma_reject(e->id, nullptr, 0), 0) << "errno " << errno;
  ASSERT_EQ(rdma_reject(one, nullptr, 0), 0) << "errno " << errno;
  EXPECT_EQ(event_name(first.ask("event")), "RDMA_CM_EVENT_REJECTED");
  EXPECT_EQ(event_name(third.ask("event")), "RDMA_CM_EVENT_REJECTED");
}

// Issue 16 item 6, the seed's story as a program sees it: B's program is connected to ours when B
// reboots, and B's new program connects again from the same QP number. Our engine still holds
// that QPN for B's CA GUID: the REQ gets REJ 10 (stale connection), so the new program gets
// REJECTED with status 10, and the old connection is ended: DISCONNECTED here, and (DREQ) in B's
// old program, which answers; then TIMEWAIT_EXIT here.
TEST_F(Connect, StaleQpnAfterPeerRebootRejected10OldConnectionDisconnected) {
  ASSERT_NE(listen_on(7601), nullptr);
  PeerProcess before(nodes().b->socket());
  rdma_cm_id* conn = accept_from_peer(before, 7601, "0x5601");
  ASSERT_NE(conn, nullptr);

  PeerProcess after(nodes().b_rebooted->socket());
  ASSERT_TRUE(after.connect(7601, "0x5601"));
  std::string rej = after.ask("event");
  EXPECT_EQ(event_name(rej), "RDMA_CM_EVENT_REJECTED") << rej;
  EXPECT_EQ(field(rej, "status"), "10");
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_DISCONNECTED, conn));
  EXPECT_FALSE(event_waiting(ch_));  // no CONNECT_REQUEST for the stale REQ
  EXPECT_EQ(event_name(before.ask("event")), "RDMA_CM_EVENT_DISCONNECTED");
  ASSERT_EQ(before.ask("disconnect"), "ok");
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_TIMEWAIT_EXIT, conn));
}

// The peer's daemon stops while its program holds a connection to ours: the program's blocked
// rdma_get_cm_event returns DEVICE_REMOVAL for its ID, then fails (ENODEV, its channel closed)
// rather than waiting for ever, and the daemon's DREQ gives our program DISCONNECTED, then
// TIMEWAIT_EXIT once we answer.
TEST_F(Connect, PeerDaemonStopsProgramErrorsWeDisconnect) {
  ASSERT_NE(listen_on(7701), nullptr);
  std::unique_ptr<NodeDaemon> d = make_node(0xD, 4, "d");
  ASSERT_TRUE(d && d->ok());
  PeerProcess peer(d->socket());
  rdma_cm_id* conn = accept_from_peer(peer, 7701, "0x5701");
  ASSERT_NE(conn, nullptr);

  ASSERT_TRUE(peer.send("event"));
  d.reset();
  EXPECT_EQ(event_name(peer.line().value_or("")), "RDMA_CM_EVENT_DEVICE_REMOVAL");
  EXPECT_EQ(peer.ask("event"), "error " + std::to_string(ENODEV));
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_DISCONNECTED, conn));
  ASSERT_EQ(rdma_disconnect(conn), 0) << "errno " << errno;  // the DREP, to nobody
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_TIMEWAIT_EXIT, conn));
}

// Private data longer than the message carries fails EINVAL, as Linux's CM refuses it (REQ: 56
// bytes after rdma_cm's header; REP 196; REJ 148), rather than being cut short unseen; the
// longest that fits goes whole.
TEST_F(Connect, PrivateDataTooLongFailsEinval) {
  ASSERT_NE(listen_on(7751), nullptr);
  PeerProcess peer(nodes().b->socket());
  ASSERT_TRUE(peer.connect(7751, "0x5751", hex(std::string(kReqUser, 'q'))));
  EventPtr e = take_request();
  ASSERT_TRUE(e);
  rdma_cm_id* conn = e->id;
  EXPECT_EQ(private_hex(*e), hex(std::string(kReqUser, 'q')));

  std::string rep(kRep + 1, 'p');
  rdma_conn_param p = no_qp(0x6751, rep);
  errno = 0;
  EXPECT_EQ(rdma_accept(conn, &p), -1);
  EXPECT_EQ(errno, EINVAL);
  std::string rej(kRej + 1, 'r');
  errno = 0;
  EXPECT_EQ(rdma_reject(conn, rej.data(), static_cast<uint8_t>(rej.size())), -1);
  EXPECT_EQ(errno, EINVAL);
  rej.pop_back();
  ASSERT_EQ(rdma_reject(conn, rej.data(), static_cast<uint8_t>(rej.size())), 0)
      << "errno " << errno;
  std::string got = peer.ask("event");
  EXPECT_EQ(event_name(got), "RDMA_CM_EVENT_REJECTED") << got;
  EXPECT_EQ(field(got, "pd"), hex(rej));

  rdma_cm_id* id = new_id();
  ASSERT_NO_FATAL_FAILURE(resolve(id, 7751));
  std::string req(kReqUser + 1, 'q');
  p = no_qp(0x1751, req);
  errno = 0;
  EXPECT_EQ(rdma_connect(id, &p), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_FALSE(event_waiting(ch_));
}

// A listener destroyed while a request for it waits undelivered on the channel: the request is
// the listener's, so it ends with it (the kernel's ucma destroys such requests' IDs: REJ, consumer
// reject) and is never delivered; the peer gets REJECTED status 28 rather than waiting for its
// REQ to time out.
TEST_F(Connect, ListenerDestroyedWithRequestWaitingRejects) {
  rdma_cm_id* listener = listen_on(7771);
  ASSERT_NE(listener, nullptr);
  PeerProcess peer(nodes().b->socket());
  ASSERT_TRUE(peer.connect(7771, "0x5771"));
  pollfd request{ch_->fd, POLLIN, 0};
  ASSERT_EQ(::poll(&request, 1, 10000), 1);  // the CONNECT_REQUEST is there, not yet read
  ASSERT_EQ(destroy(listener), 0);
  int flags = ::fcntl(ch_->fd, F_GETFL);
  ASSERT_EQ(::fcntl(ch_->fd, F_SETFL, flags | O_NONBLOCK), 0);
  rdma_cm_event* none = nullptr;
  EXPECT_EQ(rdma_get_cm_event(ch_, &none), -1);  // not delivered
  EXPECT_EQ(errno, EAGAIN);
  std::string rej = peer.ask("event");
  EXPECT_EQ(event_name(rej), "RDMA_CM_EVENT_REJECTED") << rej;
  EXPECT_EQ(field(rej, "status"), std::to_string(kConsumerReject));
}

// A request already read is the program's own ID: destroying its listener leaves it whole, and
// accepting it still connects.
TEST_F(Connect, RequestReadOutlivesItsListener) {
  rdma_cm_id* listener = listen_on(7772);
  ASSERT_NE(listener, nullptr);
  PeerProcess peer(nodes().b->socket());
  ASSERT_TRUE(peer.connect(7772, "0x5772"));
  EventPtr e = take_request();
  ASSERT_TRUE(e);
  rdma_cm_id* conn = e->id;
  e.reset();
  ASSERT_EQ(destroy(listener), 0);
  rdma_conn_param p = no_qp(0x6772, "");
  ASSERT_EQ(rdma_accept(conn, &p), 0) << "errno " << errno;
  EXPECT_EQ(event_name(peer.ask("event")), "RDMA_CM_EVENT_CONNECT_RESPONSE");
  ASSERT_EQ(peer.ask("establish"), "ok");
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_ESTABLISHED, conn));
}

}  // namespace
}  // namespace ibcm::rdmacm::test
