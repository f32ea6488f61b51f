// Two CM engines over two umad transports on fake ports wired to each other, the fake MAD layer
// rewriting the upper 32 bits of every request's TID as the kernel does: connections, SIDR and
// ClassPortInfo still work, because nothing in ibcm matches a CM message by its TID.
#include <gtest/gtest.h>

#include <algorithm>

#include "ibcm/engine/cm.h"
#include "ibcm/wire/mad.h"
#include "umad/ports.h"

using namespace ibcm;
using namespace ibcm::umad;
using namespace ibcm::umad::test;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kService = 0x0000000001061C06;

struct Node {
  std::shared_ptr<FakePortState> port;
  std::unique_ptr<UmadTransport> t;
  Cm cm;
  std::vector<std::string> events;

  Node(FakeFabric& fabric, LinkLayer link, const LocalPort& local, uint8_t n)
      : port(fabric.add_port(
            link, link == LinkLayer::Ethernet ? roce_gids(n) : std::vector{ib_gid(n)}, local.lid)),
        t(open_on(port, local)),
        cm(config(n)) {}
  Config config(uint8_t n) const {
    Config c;
    c.ca_guid = 0x0002c90300000000ull | n;
    c.local = t->local();
    c.seed = n;
    return c;
  }
  bool saw(const std::string& name) const {
    return std::find(events.begin(), events.end(), name) != events.end();
  }
  // Hands what the engine has to send to the transport; answers events as a consumer would.
  void flush(Time now) {
    std::vector<Transmit> out;
    while (auto tx = cm.poll_transmit()) out.push_back(*tx);
    t->send(out);
    while (auto e = cm.poll_event()) {
      events.emplace_back(event_name(*e));
      if (auto* req = std::get_if<ev::ReqReceived>(&*e)) {
        AcceptParams ap;
        ap.qpn = 0x42;
        EXPECT_TRUE(cm.accept(now, req->conn, ap).has_value());
      } else if (auto* rep = std::get_if<ev::RepReceived>(&*e)) {
        EXPECT_TRUE(cm.send_rtu(now, rep->conn).has_value());
      } else if (auto* dreq = std::get_if<ev::DreqReceived>(&*e)) {
        EXPECT_TRUE(cm.send_drep(now, dreq->conn).has_value());
      } else if (auto* sidr = std::get_if<ev::SidrReqReceived>(&*e)) {
        SidrReplyParams rp;
        rp.qpn = 0x99;
        rp.qkey = 0x11111111;
        EXPECT_TRUE(cm.sidr_reply(now, sidr->id, rp).has_value());
      }
    }
  }
  // Takes what the transport has for the engine. Returns how many MADs.
  size_t take(Time now) {
    std::array<Received, 16> rx;
    size_t n = t->receive(rx);
    std::vector<Inbound> in;
    for (size_t i = 0; i < n; ++i) in.push_back(Inbound{rx[i].from, {rx[i].mad.data(), 256}});
    cm.handle_mads(now, in);
    return n;
  }
};

// Moves MADs both ways until neither side has anything to say (bounded).
void settle(Node& a, Node& b, Time now) {
  for (int round = 0; round < 50; ++round) {
    a.flush(now);
    b.flush(now);
    size_t moved = a.take(now) + b.take(now);
    a.flush(now);
    b.flush(now);
    if (moved == 0 && a.port->rx.empty() && b.port->rx.empty()) return;
  }
  ADD_FAILURE() << "still talking after 50 rounds";
}

ConnectParams connect_to(const Node& server) {
  ConnectParams p;
  p.service_id = kService;
  p.dest = server.t->local();
  p.qpn = 0x77;
  p.packet_life_time = 10;  // TIMEWAIT of a few ms
  p.remote_cm_response_timeout = 12;
  return p;
}

// The TID the MAD with attribute `attr` was sent with, first one found.
uint64_t sent_tid(const FakePortState& p, uint16_t attr) {
  for (const UmadMad& m : p.sent)
    if ((m.mad[16] << 8 | m.mad[17]) == attr) return tid_of(m.mad);
  ADD_FAILURE() << "no MAD with attribute " << attr << " was sent";
  return 0;
}

void connect_and_disconnect(LinkLayer link, const LocalPort& client_port,
                            const LocalPort& server_port) {
  FakeFabric fabric;
  Node client(fabric, link, client_port, 2), server(fabric, link, server_port, 3);
  ASSERT_NE(client.port->hi_tid, server.port->hi_tid);
  ASSERT_TRUE(server.cm.listen(kService).has_value());
  Time now = 1s;
  auto conn = client.cm.connect(now, connect_to(server));
  ASSERT_TRUE(conn.has_value());
  settle(client, server, now);
  EXPECT_TRUE(client.saw("established"));
  EXPECT_TRUE(server.saw("rtu_received"));
  ASSERT_TRUE(client.cm.disconnect(now, *conn).has_value());
  settle(client, server, now);
  EXPECT_TRUE(server.saw("dreq_received"));
  EXPECT_TRUE(client.saw("drep_received"));
  now += 1s;
  client.cm.handle_timeout(now);
  server.cm.handle_timeout(now);
  settle(client, server, now);
  EXPECT_TRUE(client.saw("timewait_exit"));
  EXPECT_TRUE(server.saw("timewait_exit"));

  // Every request went out with its sender's hi_tid on top, and the replies kept only the low
  // half of the TID they echo: REP carries the REQ's low 32 bits under the server's high ones.
  for (const auto* p : {client.port.get(), server.port.get()})
    for (const UmadMad& m : p->sent) EXPECT_EQ(tid_of(m.mad) >> 32, p->hi_tid);
  uint64_t req = sent_tid(*client.port, 0x10), rep = sent_tid(*server.port, 0x13);
  EXPECT_EQ(req & 0xFFFFFFFF, rep & 0xFFFFFFFF);
  EXPECT_NE(req >> 32, rep >> 32);
  EXPECT_EQ(fabric.unrouted, 0u);
  for (const Node* n : {&client, &server}) {
    EXPECT_EQ(n->t->counters().rx_dropped, 0u);
    EXPECT_EQ(n->t->counters().tx_errors, 0u);
    EXPECT_EQ(n->cm.connection_count(), 0u);
  }
}

}  // namespace

TEST(UmadHandshake, RoceConnectAndDisconnectWithTidsRewritten) {
  connect_and_disconnect(LinkLayer::Ethernet, roce_port(2), roce_port(3));
}

TEST(UmadHandshake, InfiniBandConnectAndDisconnectByLidWithTidsRewritten) {
  connect_and_disconnect(LinkLayer::InfiniBand, ib_port(2, 0x12), ib_port(3, 0x13));
}

TEST(UmadHandshake, InfiniBandSendsCarryNoGrhWithinTheSubnet) {
  FakeFabric fabric;
  Node client(fabric, LinkLayer::InfiniBand, ib_port(2, 0x12), 2);
  Node server(fabric, LinkLayer::InfiniBand, ib_port(3, 0x13), 3);
  ASSERT_TRUE(server.cm.listen(kService).has_value());
  ConnectParams p = connect_to(server);
  ASSERT_TRUE(client.cm.connect(1s, p).has_value());
  settle(client, server, 1s);
  ASSERT_TRUE(client.saw("established"));
  for (const auto* port : {client.port.get(), server.port.get()})
    for (const UmadMad& m : port->sent) EXPECT_FALSE(m.addr.grh_present);
  EXPECT_EQ(client.port->sent[0].addr.lid, 0x13);
  EXPECT_EQ(server.port->sent[0].addr.lid, 0x12);
}

TEST(UmadHandshake, SidrMatchesByRequestIdWithTidsRewritten) {
  FakeFabric fabric;
  Node client(fabric, LinkLayer::Ethernet, roce_port(2), 2);
  Node server(fabric, LinkLayer::Ethernet, roce_port(3), 3);
  ASSERT_TRUE(server.cm.listen(kService).has_value());
  SidrParams p;
  p.service_id = kService;
  p.dest = server.t->local();
  ASSERT_TRUE(client.cm.sidr_request(1s, p).has_value());
  settle(client, server, 1s);
  EXPECT_TRUE(server.saw("sidr_req_received"));
  EXPECT_TRUE(client.saw("sidr_rep_received"));
  uint64_t req = sent_tid(*client.port, 0x17), rep = sent_tid(*server.port, 0x18);
  EXPECT_NE(req >> 32, rep >> 32);  // SIDR_REP is a Send, so the kernel rewrote it too
}

TEST(UmadHandshake, ClassPortInfoGetIsAnsweredToTheAgentThatAsked) {
  // A management tool's agent asks the ibcm port for ClassPortInfo; the GetResp is a response, so
  // the MAD layer leaves its TID alone and routes it by the upper 32 bits back to that agent.
  FakeFabric fabric;
  auto tool = fabric.add_port(LinkLayer::Ethernet, roce_gids(2));
  FakeUmadPort tool_umad(tool);
  ASSERT_TRUE(tool_umad.register_agent(0x07, 2, std::array<uint8_t, 1>{0x03}).has_value());
  Node server(fabric, LinkLayer::Ethernet, roce_port(3), 3);
  UmadMad get;
  get.length = 256;
  get.addr.grh_present = true;
  get.addr.gid = roce_gids(3)[1];
  get.addr.gid_index = 1;
  get.addr.hop_limit = 64;
  get.mad = wire::encode(wire::make_mad(wire::ClassPortInfo{}, 0x5555));
  ASSERT_EQ(tool_umad.send(get), 0);
  uint64_t asked = tid_of(tool->sent.at(0).mad);
  EXPECT_EQ(asked, uint64_t{tool->hi_tid} << 32 | 0x5555);
  ASSERT_EQ(server.take(1s), 1u);
  server.flush(1s);
  EXPECT_EQ(server.cm.counters().class_port_info_answered, 1u);
  UmadMad resp;
  ASSERT_EQ(tool_umad.receive(resp), 0);
  EXPECT_EQ(resp.mad[3], 0x81);  // GetResp
  EXPECT_EQ(tid_of(resp.mad), asked);
  EXPECT_EQ((resp.mad[16] << 8 | resp.mad[17]), 0x0001);
  EXPECT_EQ(fabric.unrouted, 0u);
}

TEST(UmadHandshake, MraThenRepForOneReqBothReachThePeer) {
  // Both echo the REQ's TID; ib_umad refuses the second while the first is in flight.
  FakeFabric fabric;
  Node client(fabric, LinkLayer::Ethernet, roce_port(2), 2);
  Node server(fabric, LinkLayer::Ethernet, roce_port(3), 3);
  server.port->hold_sends = true;
  ASSERT_TRUE(server.cm.listen(kService).has_value());
  ASSERT_TRUE(client.cm.connect(1s, connect_to(server)).has_value());
  client.flush(1s);
  ASSERT_EQ(server.take(1s), 1u);
  auto e = server.cm.poll_event();
  ASSERT_TRUE(e && std::holds_alternative<ev::ReqReceived>(*e));
  ConnId c = std::get<ev::ReqReceived>(*e).conn;
  ASSERT_TRUE(server.cm.send_mra(1s, c, 20).has_value());
  AcceptParams ap;
  ap.qpn = 0x42;
  ASSERT_TRUE(server.cm.accept(1s, c, ap).has_value());
  server.flush(1s);
  EXPECT_EQ(server.t->counters().tx_packets, 2u);
  EXPECT_EQ(server.t->counters().tx_errors, 0u);
  settle(client, server, 1s);
  EXPECT_TRUE(client.saw("mra_received"));
  EXPECT_TRUE(client.saw("established"));
}
