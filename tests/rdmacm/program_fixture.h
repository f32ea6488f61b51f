// The test process as an rdma_cm program of node A: one event channel, and every ID a test makes
// destroyed at its end (even when an assertion failed half-way).
#pragma once

#include <gtest/gtest.h>
#include <rdma/rdma_cma.h>

#include <string_view>
#include <vector>

#include "rdmacm/cm_events.h"
#include "rdmacm/node_daemon.h"
#include "rdmacm/peer_process.h"

namespace ibcm::rdmacm::test {

class ProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto* n : {&nodes().a, &nodes().b, &nodes().b_rebooted})
      ASSERT_TRUE(*n && (*n)->ok());
    ch_ = rdma_create_event_channel();
    ASSERT_NE(ch_, nullptr) << "errno " << errno;
  }
  void TearDown() override {
    for (rdma_cm_id* id : ids_) rdma_destroy_id(id);
    if (ch_) rdma_destroy_event_channel(ch_);
  }

  // A new ID (RDMA_PS_TCP unless told) on the test's channel (null channel: a synchronous ID).
  rdma_cm_id* new_id(rdma_event_channel* ch, void* context = nullptr,
                     rdma_port_space ps = RDMA_PS_TCP) {
    rdma_cm_id* id = nullptr;
    EXPECT_EQ(rdma_create_id(ch, &id, context, ps), 0) << "errno " << errno;
    if (id) ids_.push_back(id);
    return id;
  }
  rdma_cm_id* new_id() { return new_id(ch_); }
  // An ID made by the library (a CONNECT_REQUEST's) that the test now owns.
  void own(rdma_cm_id* id) { ids_.push_back(id); }
  // rdma_destroy_id on one of the test's IDs before the end.
  int destroy(rdma_cm_id* id) {
    std::erase(ids_, id);
    return rdma_destroy_id(id);
  }

  // The next event on the test's channel, checked: its type, its status and (when given) its ID.
  // Null, and a failure, if none came.
  EventPtr expect_event(rdma_cm_event_type type, rdma_cm_id* id = nullptr, int status = 0) {
    EventPtr e = next_event(ch_);
    if (!e) {
      ADD_FAILURE() << "no event came, expected " << rdma_event_str(type);
      return e;
    }
    EXPECT_EQ(e->event, type) << rdma_event_str(e->event);
    EXPECT_EQ(e->status, status) << rdma_event_str(e->event);
    if (id) {
      EXPECT_EQ(e->id, id) << rdma_event_str(e->event);
    }
    return e;
  }

  // The next event, a CONNECT_REQUEST, whose new ID the test then owns (null, and a failure,
  // for anything else).
  EventPtr take_request() {
    EventPtr e = expect_event(RDMA_CM_EVENT_CONNECT_REQUEST);
    if (!e || e->event != RDMA_CM_EVENT_CONNECT_REQUEST) return nullptr;
    own(e->id);
    return e;
  }

  // take_request's ID, its event acknowledged (null, and a failure, for anything else).
  rdma_cm_id* take_request_id() {
    EventPtr e = take_request();
    return e ? e->id : nullptr;
  }

  // rdma_resolve_addr and rdma_resolve_route to 127.0.0.1:port, each event checked.
  void resolve(rdma_cm_id* id, uint16_t port) {
    sockaddr_in dst = loopback(port);
    ASSERT_EQ(rdma_resolve_addr(id, nullptr, as_sockaddr(dst), 2000), 0) << "errno " << errno;
    ASSERT_TRUE(expect_event(RDMA_CM_EVENT_ADDR_RESOLVED, id));
    ASSERT_EQ(rdma_resolve_route(id, 2000), 0) << "errno " << errno;
    ASSERT_TRUE(expect_event(RDMA_CM_EVENT_ROUTE_RESOLVED, id));
  }

  // A listener bound to 127.0.0.1:port (null, and a failure, if it cannot listen).
  rdma_cm_id* listen_on(uint16_t port, rdma_port_space ps = RDMA_PS_TCP) {
    rdma_cm_id* id = new_id(ch_, nullptr, ps);
    sockaddr_in addr = loopback(port);
    if (!id || rdma_bind_addr(id, as_sockaddr(addr)) != 0 || rdma_listen(id, 4) != 0) {
      ADD_FAILURE() << "cannot listen on " << port << ": errno " << errno;
      return nullptr;
    }
    return id;
  }

  // The peer listens on `port`, and `id` here connects to it with `p`: returns the peer's line
  // for the request ("" and a failure when a step failed).
  std::string request_to_peer(PeerProcess& peer, uint16_t port, rdma_cm_id* id, rdma_conn_param p) {
    if (!peer.ready() || peer.ask("listen " + std::to_string(port)) != "ok") {
      ADD_FAILURE() << "the peer does not listen on " << port;
      return "";
    }
    resolve(id, port);
    if (HasFatalFailure()) return "";
    if (rdma_connect(id, &p) != 0) {
      ADD_FAILURE() << "rdma_connect: errno " << errno;
      return "";
    }
    return peer.ask("event");
  }

  // `id` here connects (with `p`) to the peer's listener on `port`, the peer accepts with QP
  // number peer_qpn, and both sides are ESTABLISHED (false, and a failure, when a step failed).
  bool connect_to_peer(PeerProcess& peer, uint16_t port, rdma_cm_id* id, rdma_conn_param p,
                       const std::string& peer_qpn) {
    std::string req = request_to_peer(peer, port, id, p);
    EXPECT_EQ(event_name(req), "RDMA_CM_EVENT_CONNECT_REQUEST") << req;
    EXPECT_EQ(peer.ask("accept " + peer_qpn + " -"), "ok");
    EXPECT_TRUE(expect_event(RDMA_CM_EVENT_CONNECT_RESPONSE, id));
    EXPECT_EQ(rdma_establish(id), 0) << "errno " << errno;
    EXPECT_EQ(event_name(peer.ask("event")), "RDMA_CM_EVENT_ESTABLISHED");
    return !HasFailure();
  }

  // The peer connects (QP number qpn) to our listener on `port`, and we accept: the connection's
  // ID once both sides are ESTABLISHED, or null with a failure.
  rdma_cm_id* accept_from_peer(PeerProcess& peer, uint16_t port, const std::string& qpn) {
    if (!peer.connect(port, qpn)) {
      ADD_FAILURE() << "the peer does not connect to " << port;
      return nullptr;
    }
    EventPtr e = take_request();
    if (!e) return nullptr;
    rdma_cm_id* conn = e->id;
    rdma_conn_param p = no_qp(0x7000 + port, "");
    EXPECT_EQ(rdma_accept(conn, &p), 0) << "errno " << errno;
    EXPECT_EQ(event_name(peer.ask("event")), "RDMA_CM_EVENT_CONNECT_RESPONSE");
    EXPECT_EQ(peer.ask("establish"), "ok");
    EXPECT_TRUE(expect_event(RDMA_CM_EVENT_ESTABLISHED, conn));
    return HasFailure() ? nullptr : conn;
  }

  // Connection parameters without a QP: the QP number is the caller's, as rdma_connect(3) allows.
  // They point into private_data, which must outlive them (a literal, or a named string).
  static rdma_conn_param no_qp(uint32_t qp_num, std::string_view private_data) {
    rdma_conn_param p{};
    p.qp_num = qp_num;
    p.responder_resources = 1;
    p.initiator_depth = 1;
    p.retry_count = 7;
    p.rnr_retry_count = 7;
    p.private_data = private_data.empty() ? nullptr : private_data.data();
    p.private_data_len = static_cast<uint8_t>(private_data.size());
    return p;
  }

  rdma_event_channel* ch_ = nullptr;
  std::vector<rdma_cm_id*> ids_;
};

}  // namespace ibcm::rdmacm::test
