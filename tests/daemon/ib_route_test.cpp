// The daemon on an InfiniBand port, end to end with no device: rdma_resolve_addr from IPoIB
// addresses, rdma_resolve_route as a SubnAdmGet(PathRecord) to the SA and its recorded answers
// (tests/sa/sa_vectors.h) as ROUTE_RESOLVED or ROUTE_ERROR, and the SA's path in the REQ and in
// the QP's RTR attributes (LID-routed); a peer's REQ gives a passive ID the REQ's path.
#include <gtest/gtest.h>

#include <cstring>

#include "daemon/ib_daemon.h"
#include "daemon/route.h"
#include "ibcm/engine/cm.h"
#include "ibcm/transport/rdma_cm_params.h"
#include "ibcm/verbs/qp_attr.h"
#include "ibcm/wire/mad.h"

namespace ibcm::daemon::test {
namespace {

using sa::test::kOurGid;
using sa::test::kPeerGid;

// The query rdma_resolve_route sends for the ID (IPv4, type of service 0), as it leaves the port:
// kPathGetRequest (the Get of Linux's cma_query_ib_route for the same pair and service, written
// out byte by byte) with QoSClass 0 among the components, as the kernel asks for IPv4 — mask
// 0x780f.
wire::MadBytes expected_query() {
  wire::MadBytes m = sa::test::kPathGetRequest;
  m[54] = 0x78;
  return m;
}

// OpenSM's recorded answer, forged to a path with every field non-zero where the recording has
// zeros: FlowLabel 0x12345, HopLimit 0x40 (through a router), TClass 0x20, SL 3.
wire::MadBytes routed_answer() {
  wire::MadBytes m = sa::test::kPathGetResp;
  const size_t rec = sa::kSaHeaderSize;
  m[rec + 44] = 0x01;  // RawTraffic 0, reserved, FlowLabel 0x12345, HopLimit 0x40
  m[rec + 45] = 0x23;
  m[rec + 46] = 0x45;
  m[rec + 47] = 0x40;
  m[rec + 48] = 0x20;  // TClass
  m[rec + 53] = 0x03;  // QoSClass 0, SL 3
  return m;
}

wire::Gid gid_from(const uint8_t (&raw)[16]) {
  wire::Gid g;
  std::memcpy(g.data(), raw, g.size());
  return g;
}

// What every route between the two ports shows: our GID and LID 3 to the peer's and LID 5, on
// InfiniBand, MTU 4096, PacketLifeTime 18, the default partition, the path resolved.
void expect_between_the_ports(const proto::Route& r) {
  EXPECT_EQ(r.link_layer, IBV_LINK_LAYER_INFINIBAND);
  EXPECT_EQ(gid_from(r.sgid), kOurGid);
  EXPECT_EQ(gid_from(r.dgid), kPeerGid);
  EXPECT_EQ(r.slid, 3);
  EXPECT_EQ(r.dlid, 5);
  EXPECT_EQ(r.mtu, static_cast<uint8_t>(wire::Mtu::Mtu4096));
  EXPECT_EQ(r.packet_life_time, 18);
  EXPECT_EQ(r.pkey, 0xFFFF);
  EXPECT_EQ(r.resolved, 2);
}

// The peer port's CM (GUID ...d4f8, LID 5).
Config peer_config() {
  Config pc;
  pc.ca_guid = 0x248a07030049d4f8;
  pc.seed = 2;
  pc.local.gid = kPeerGid;
  pc.local.lid = 5;
  return pc;
}

// The daemon with an address resolved to the peer.
struct Resolved : IbDaemon {
  using IbDaemon::IbDaemon;
  void resolve() {
    ASSERT_EQ(resolve_addr(), 0);
    auto e = next_event();
    ASSERT_TRUE(e);
    ASSERT_EQ(e->event, RDMA_CM_EVENT_ADDR_RESOLVED);
    ASSERT_EQ(e->status, 0);
    addr_event = *e;
  }
  proto::Event addr_event;
};

TEST(IbDaemon, AddressFromIpoibThenRouteFromTheSa) {
  Resolved d;
  d.resolve();
  // Our GID is our IPoIB netdev's (its hardware address's bytes 4..19), the peer's the one its
  // neighbour entry holds; the partition is our netdev's broadcast address's.
  const proto::Route& a = d.addr_event.route;
  EXPECT_EQ(a.link_layer, IBV_LINK_LAYER_INFINIBAND);
  EXPECT_EQ(gid_from(a.sgid), kOurGid);
  EXPECT_EQ(gid_from(a.dgid), kPeerGid);
  EXPECT_EQ(a.pkey, 0xFFFF);
  EXPECT_EQ(a.sgid_index, 0);
  EXPECT_EQ(a.resolved, 1);

  ASSERT_EQ(d.resolve_route(), 0);
  EXPECT_EQ(d.sa_opens, 1);
  ASSERT_EQ(d.sa_port->sent.size(), 1u);
  EXPECT_EQ(d.sa_port->sent[0].mad, expected_query());
  EXPECT_EQ(d.sa_port->sent[0].addr.lid, 1);      // to the SM
  EXPECT_FALSE(d.IbDaemon::readable(d.channel));  // nothing until the SA answers

  sa::test::answer(*d.sa_port, routed_answer(), 0);
  auto e = d.next_event();
  ASSERT_TRUE(e);
  ASSERT_EQ(e->event, RDMA_CM_EVENT_ROUTE_RESOLVED);
  EXPECT_EQ(e->status, 0);
  const proto::Route& r = e->route;
  expect_between_the_ports(r);
  EXPECT_EQ(r.sl, 3);
  EXPECT_EQ(r.rate, 16);
  EXPECT_EQ(r.flow_label, 0x12345u);
  EXPECT_EQ(r.traffic_class, 0x20);
  EXPECT_EQ(r.hop_limit, 0x40);
}

TEST(IbDaemon, TheSaPathIsTheReqsAndTheRtrAttributes) {
  Resolved d;
  d.resolve();
  ASSERT_EQ(d.resolve_route(), 0);
  sa::test::answer(*d.sa_port, routed_answer(), 0);
  auto routed = d.next_event();
  ASSERT_TRUE(routed && routed->event == RDMA_CM_EVENT_ROUTE_RESOLVED);

  proto::Request c = d.request(proto::Op::Connect);
  c.conn.qp_num = 0x1234;
  ASSERT_EQ(d.call(c).err, 0);
  ASSERT_EQ(d.sent.size(), 1u);
  const Transmit& t = d.sent[0];
  EXPECT_EQ(t.to.lid, 5);  // the REQ goes to the peer's LID
  EXPECT_EQ(t.to.gid, kPeerGid);
  auto mad = wire::decode(t.mad);
  ASSERT_TRUE(mad);
  const auto* req = std::get_if<wire::Req>(&mad->message);
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(req->service_id, sa::test::kServiceId);
  EXPECT_EQ(req->primary.local_lid, 3);
  EXPECT_EQ(req->primary.remote_lid, 5);
  EXPECT_EQ(req->primary.local_gid, kOurGid);
  EXPECT_EQ(req->primary.remote_gid, kPeerGid);
  EXPECT_EQ(req->primary.sl, 3);
  EXPECT_EQ(req->primary.flow_label, 0x12345u);
  EXPECT_EQ(req->primary.traffic_class, 0x20);
  EXPECT_EQ(req->primary.hop_limit, 0x40);
  EXPECT_FALSE(req->primary.subnet_local);
  EXPECT_EQ(req->primary.packet_rate, 16);
  EXPECT_EQ(req->primary.local_ack_timeout, 19);  // 2 x PacketLifeTime 18
  EXPECT_EQ(req->path_mtu, wire::Mtu::Mtu4096);
  EXPECT_EQ(req->partition_key, 0xFFFF);

  // The peer's CM accepts; its REP comes from its LID.
  const Config pc = peer_config();
  Cm peer(pc);
  ASSERT_TRUE(peer.listen(sa::test::kServiceId));
  Address us;
  us.gid = kOurGid;
  us.lid = 3;
  peer.handle_mad(Time{}, us, t.mad);
  std::optional<Event> got = peer.poll_event();
  ASSERT_TRUE(got);
  const auto* rcvd = std::get_if<ev::ReqReceived>(&*got);
  ASSERT_NE(rcvd, nullptr);
  AcceptParams ap;
  ap.qpn = 0x77;
  ap.psn = 0x100;
  ASSERT_TRUE(peer.accept(Time{}, rcvd->conn, ap));
  auto e = d.from_peer(peer, pc.local);  // the REP
  ASSERT_TRUE(e);
  ASSERT_EQ(e->event, RDMA_CM_EVENT_CONNECT_RESPONSE);

  // RTR as the library moves the program's QP: LID-routed to the peer's LID, with a GRH since
  // the path crosses a router (HopLimit 0x40).
  verbs::QpContext qc;
  qc.link_layer = IBV_LINK_LAYER_INFINIBAND;
  verbs::IbvModify m = verbs::to_ibv(e->rtr, qc);
  EXPECT_EQ(m.attr.qp_state, IBV_QPS_RTR);
  EXPECT_EQ(m.attr.dest_qp_num, 0x77u);
  EXPECT_EQ(m.attr.path_mtu, IBV_MTU_4096);
  EXPECT_EQ(m.attr.ah_attr.dlid, 5);
  EXPECT_EQ(m.attr.ah_attr.sl, 3);
  EXPECT_EQ(m.attr.ah_attr.is_global, 1);
  EXPECT_EQ(m.attr.ah_attr.grh.hop_limit, 0x40);
  EXPECT_EQ(m.attr.ah_attr.grh.flow_label, 0x12345u);
  EXPECT_EQ(m.attr.ah_attr.grh.traffic_class, 0x20);
  EXPECT_EQ(std::memcmp(m.attr.ah_attr.grh.dgid.raw, kPeerGid.data(), 16), 0);
}

TEST(IbDaemon, NoAnswerIsRouteErrorTimedOutAndTheIdMayAskAgain) {
  sa::QueryOptions quick;
  quick.timeout = 1ms;
  quick.max_retries = 1;
  Resolved d(quick);
  d.resolve();
  ASSERT_EQ(d.resolve_route(), 0);
  auto e = d.next_event();  // the SA client's timer fires in the loop, twice
  ASSERT_TRUE(e);
  EXPECT_EQ(e->event, RDMA_CM_EVENT_ROUTE_ERROR);
  EXPECT_EQ(e->status, -ETIMEDOUT);
  EXPECT_EQ(d.sa_port->sent.size(), 2u);  // the try and its retry
  ASSERT_FALSE(d.log.empty());
  EXPECT_NE(d.log.back().find("no answer from the SA"), std::string::npos) << d.log.back();

  // As the kernel's: back to ADDR_RESOLVED, so rdma_resolve_route may be called again.
  ASSERT_EQ(d.resolve_route(), 0);
  EXPECT_EQ(d.sa_port->sent.size(), 3u);
  sa::test::answer(*d.sa_port, sa::test::kPathGetResp, 2);
  auto again = d.next_event();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->event, RDMA_CM_EVENT_ROUTE_RESOLVED);
  EXPECT_EQ(again->route.dlid, 5);
  EXPECT_EQ(d.sa_opens, 1);  // one SA client for every query
}

TEST(IbDaemon, AnSaErrorStatusIsRouteErrorEinval) {
  Resolved d;
  d.resolve();
  ASSERT_EQ(d.resolve_route(), 0);
  // OpenSM's ERR_NO_RECORDS: the kernel's SA client reports any answer with a status as -EINVAL.
  sa::test::answer(*d.sa_port, sa::test::kPathGetNoRecords, 0);
  auto e = d.next_event();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->event, RDMA_CM_EVENT_ROUTE_ERROR);
  EXPECT_EQ(e->status, -EINVAL);
  ASSERT_FALSE(d.log.empty());
  EXPECT_NE(d.log.back().find("ERR_NO_RECORDS"), std::string::npos) << d.log.back();
  // Connecting needs a route.
  proto::Request c = d.request(proto::Op::Connect);
  EXPECT_EQ(d.call(c).err, EINVAL);
  EXPECT_TRUE(d.sent.empty());
}

TEST(IbDaemon, NoSaClientFailsTheCallWithEagainUntilOneOpens) {
  Resolved d;
  d.sa_error = "mlx5_0 port 1 knows no subnet manager (sm_lid 0)";
  d.resolve();
  EXPECT_EQ(d.resolve_route(), EAGAIN);
  EXPECT_FALSE(IbDaemon::readable(d.channel));  // a failed call posts nothing
  ASSERT_FALSE(d.log.empty());
  EXPECT_NE(d.log.back().find("no subnet manager"), std::string::npos);
  d.sa_error.clear();  // the SM is up
  EXPECT_EQ(d.resolve_route(), 0);
  EXPECT_EQ(d.sa_opens, 2);
  EXPECT_EQ(d.sa_port->sent.size(), 1u);
}

TEST(IbDaemon, AMissingNeighbourIsAddrErrorEnodata) {
  IbDaemon d;
  d.peer_known = false;
  ASSERT_EQ(d.resolve_addr(), 0);
  auto e = d.next_event();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->event, RDMA_CM_EVENT_ADDR_ERROR);
  EXPECT_EQ(e->status, -ENODATA);
  EXPECT_EQ(d.sa_opens, 0);
}

TEST(IbDaemon, APassiveIdTakesTheReqsPathAndTheHeadersAddresses) {
  IbDaemon d;
  proto::Request l = d.request(proto::Op::BindAddr);
  l.src = parse_endpoint("0.0.0.0", 7471)->addr;
  ASSERT_EQ(d.call(l).err, 0);
  l.op = proto::Op::Listen;
  ASSERT_EQ(d.call(l).err, 0);

  // The peer's rdma_cm connects from 127.0.0.2:40000 over the path its SA gave it.
  const Config pc = peer_config();
  Cm peer(pc);
  std::array<uint8_t, 92> pd{};
  ConnectParams p =
      rdma_cm_connect_params(*parse_endpoint("127.0.0.2", 0), *parse_endpoint("127.0.0.1", 0), 7471,
                             40000, 0x55, 0x200, {}, pd);
  p.dest.gid = kOurGid;
  p.dest.lid = 3;
  p.primary.local_gid = kPeerGid;
  p.primary.remote_gid = kOurGid;
  p.primary.local_lid = 5;
  p.primary.remote_lid = 3;
  p.primary.sl = 3;
  p.primary.hop_limit = 0;
  p.primary.subnet_local = true;
  p.primary.local_ack_timeout = 19;
  p.mtu = wire::Mtu::Mtu4096;
  ASSERT_TRUE(peer.connect(Time{}, p));
  auto e = d.from_peer(peer, pc.local);  // the REQ
  ASSERT_TRUE(e);
  ASSERT_EQ(e->event, RDMA_CM_EVENT_CONNECT_REQUEST);
  const proto::Route& r = e->route;
  EXPECT_EQ(endpoint(r.src).to_string(), "127.0.0.1:7471");
  EXPECT_EQ(endpoint(r.dst).to_string(), "127.0.0.2:40000");
  expect_between_the_ports(r);
  EXPECT_EQ(r.sl, 3);
}

}  // namespace
}  // namespace ibcm::daemon::test
