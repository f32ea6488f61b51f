// Stale-connection handling must not be a way to tear down someone else's connection: the QPN and
// CA GUID a stale REQ or REP carries are on the wire for anyone to copy, so only the held
// connection's peer (the GID of one of its paths) can end it that way. And a REQ or REP that names
// a connection but differs from what we know of the peer is not a duplicate of it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/pair.h"

using namespace ibcm;
using namespace ibcm::test;

namespace {
const Address kIntruder = addr_of(66);

// A REQ as a rebooted A would send it: A's QPN and CA GUID, a comm ID B has never seen.
wire::Req req_claiming(const Pair& p, uint32_t qpn, uint32_t comm_id) {
  wire::Req r;
  r.local_comm_id = comm_id;
  r.local_ca_guid = p.a.config().ca_guid;
  r.local_qpn = qpn;
  r.service_id = 0x1234;
  r.transport_service_type = wire::TransportType::RC;
  r.path_mtu = wire::Mtu::Mtu1024;
  r.primary.local_ack_timeout = 19;
  r.max_cm_retries = 15;
  return r;
}

std::vector<Wire> sent_by(Pair& p, const Cm& cm) {
  p.collect();
  std::vector<Wire> out;
  for (const Wire& w : p.in_flight)
    if (w.from == cm.config().local) out.push_back(w);
  return out;
}
}  // namespace

TEST(StaleSpoof, ReqFromAnotherGidGetsRej10AndLeavesTheConnectionAlone) {
  Pair p;
  auto [ca, cb] = p.connect(0x100, 0x200);
  (void)ca;
  std::vector<std::string> lines;
  p.b.set_logger([&](LogLevel, std::string_view s) { lines.emplace_back(s); });

  p.b.handle_mad(p.now, kIntruder, wire::encode(wire::make_mad(req_claiming(p, 0x100, 0x9999), 7)));
  auto out = sent_by(p, p.b);
  ASSERT_EQ(out.size(), 1u);  // the REJ 10, and no DREQ
  EXPECT_EQ(out[0].to, kIntruder);
  const auto rej = std::get<wire::Rej>(out[0].mad().message);
  EXPECT_EQ(rej.reason, wire::RejReason::StaleConnection);
  EXPECT_EQ(rej.remote_comm_id, 0x9999u);
  EXPECT_EQ(p.b.state(cb), State::Established);
  EXPECT_FALSE(p.last<ev::StaleConnection>(p.b_events).has_value());
  EXPECT_EQ(p.b.counters().dreq_sent_stale, 0u);
  EXPECT_EQ(p.b.counters().drop(Drop::StaleSpoofed), 1u);
  EXPECT_EQ(p.b.counters().total_drops(), 1u);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("REQ"), std::string::npos);

  // The same claim from A's own address is the genuine stale case: REJ 10 and a DREQ.
  p.in_flight.clear();
  p.b.handle_mad(p.now, p.a.config().local,
                 wire::encode(wire::make_mad(req_claiming(p, 0x100, 0x9998), 8)));
  out = sent_by(p, p.b);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<wire::Rej>(out[0].mad().message).reason, wire::RejReason::StaleConnection);
  EXPECT_EQ(std::get<wire::Dreq>(out[1].mad().message).remote_qpn, 0x100u);
  EXPECT_EQ(p.b.state(cb), State::DreqSent);
  EXPECT_TRUE(p.last<ev::StaleConnection>(p.b_events).has_value());
  EXPECT_EQ(p.b.counters().drop(Drop::StaleSpoofed), 1u);
}

TEST(StaleSpoof, RepFromAnotherNodeClaimingOurPeersQpnLeavesTheConnectionAlone) {
  // A holds a connection to B's QPN 0x200. A then connects to node 3, which answers with a REP
  // that claims B's CA GUID and QPN 0x200.
  Pair p;
  auto [ca, cb] = p.connect(0x100, 0x200);
  (void)cb;
  const Address node3 = addr_of(3);
  ConnectParams cp = p.params(0x101);
  cp.dest = node3;
  auto a2 = p.a.connect(p.now, cp);
  ASSERT_TRUE(a2.has_value());
  p.collect();
  p.in_flight.clear();  // the REQ goes to node 3

  wire::Rep rep;
  rep.local_comm_id = 0x3333;
  rep.remote_comm_id = *a2;
  rep.local_ca_guid = p.b.config().ca_guid;
  rep.local_qpn = 0x200;
  p.a.handle_mad(p.now, node3, wire::encode(wire::make_mad(rep, 9)));
  auto out = sent_by(p, p.a);
  ASSERT_EQ(out.size(), 1u);  // the REJ 10, and no DREQ to B
  EXPECT_EQ(out[0].to, node3);
  const auto rej = std::get<wire::Rej>(out[0].mad().message);
  EXPECT_EQ(rej.reason, wire::RejReason::StaleConnection);
  EXPECT_EQ(rej.message_rejected, wire::MsgRef::Rep);
  EXPECT_EQ(p.a.state(ca), State::Established);
  EXPECT_FALSE(p.last<ev::StaleConnection>(p.a_events).has_value());
  EXPECT_EQ(p.a.counters().dreq_sent_stale, 0u);
  EXPECT_EQ(p.a.counters().drop(Drop::StaleSpoofed), 1u);
  // A REP whose QPN claim conflicts sets nothing up: the attempt to node 3 stops.
  EXPECT_EQ(p.a.state(*a2), State::TimeWait);
  auto aborted = p.last<ev::Aborted>(p.a_events);
  ASSERT_TRUE(aborted.has_value());
  EXPECT_EQ(aborted->conn, *a2);
}

TEST(StaleSpoof, ReqFromTheAlternatePathsGidIsTheGenuinePeer) {
  // A rebooted peer may come back through the port of the connection's alternate path.
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  const Address a_alt = addr_of(11);
  ConnectParams cp = p.params(0x100);
  wire::PathInfo alt = cp.primary;
  alt.local_gid = a_alt.gid;
  alt.local_lid = 0x11;
  cp.alternate = alt;
  auto ca = p.a.connect(p.now, cp);
  ASSERT_TRUE(ca.has_value());
  p.deliver_one();  // REQ
  auto req = p.last<ev::ReqReceived>(p.b_events);
  ASSERT_TRUE(req.has_value());
  AcceptParams ap;
  ap.qpn = 0x200;
  ASSERT_TRUE(p.b.accept(p.now, req->conn, ap).has_value());
  p.deliver_one();  // REP
  ASSERT_TRUE(p.a.send_rtu(p.now, *ca).has_value());
  p.deliver_one();  // RTU
  ASSERT_EQ(p.b.state(req->conn), State::Established);

  p.b.handle_mad(p.now, a_alt, wire::encode(wire::make_mad(req_claiming(p, 0x100, 0x9999), 7)));
  auto out = sent_by(p, p.b);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<wire::Rej>(out[0].mad().message).reason, wire::RejReason::StaleConnection);
  EXPECT_EQ(out[1].to, p.a.config().local);  // the DREQ goes where the connection's MADs go
  EXPECT_TRUE(std::holds_alternative<wire::Dreq>(out[1].mad().message));
  EXPECT_EQ(p.b.state(req->conn), State::DreqSent);
  EXPECT_EQ(p.b.counters().drop(Drop::StaleSpoofed), 0u);
}

TEST(StaleSpoof, RepDuplicateWithAnotherCaGuidOrQpnChangesNothing) {
  Pair p;
  auto [ca, cb] = p.connect(0x100, 0x200);
  wire::Rep rep;
  rep.local_comm_id = cb;
  rep.remote_comm_id = ca;
  rep.local_ca_guid = p.b.config().ca_guid;
  rep.local_qpn = 0x200;
  auto deliver = [&](const wire::Rep& r) {
    p.in_flight.clear();
    p.a.handle_mad(p.now, p.b.config().local, wire::encode(wire::make_mad(r, 4)));
    return sent_by(p, p.a);
  };

  wire::Rep other_guid = rep;
  other_guid.local_ca_guid ^= 0xFF00;
  EXPECT_TRUE(deliver(other_guid).empty());
  wire::Rep other_qpn = rep;
  other_qpn.local_qpn = 0x201;
  EXPECT_TRUE(deliver(other_qpn).empty());
  wire::Rep other_id = rep;
  other_id.local_comm_id = cb ^ 1;
  EXPECT_TRUE(deliver(other_id).empty());
  EXPECT_EQ(p.a.counters().drop(Drop::WrongSource), 3u);
  EXPECT_EQ(p.a.counters().of(CountedMsg::Rep).rx_duplicates, 0u);
  EXPECT_EQ(p.a.state(ca), State::Established);

  // The true duplicate (our RTU was lost) still gets the RTU again.
  auto out = deliver(rep);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<wire::Rtu>(out[0].mad().message));
  EXPECT_EQ(p.a.counters().drop(Drop::WrongSource), 3u);
}

TEST(StaleSpoof, ReqDuplicateWithAnotherQpnOrCaGuidChangesNothing) {
  Pair p;
  auto [ca, cb] = p.connect(0x100, 0x200);
  wire::Req dup = req_claiming(p, 0x100, ca);

  // Same comm ID and CA GUID, another QPN: not the connection's REQ, but a new one whose comm ID
  // is taken: REJ 30 (duplicate local comm ID), naming no connection of B's.
  wire::Req other_qpn = dup;
  other_qpn.local_qpn = 0x101;
  p.b.handle_mad(p.now, p.a.config().local, wire::encode(wire::make_mad(other_qpn, 1)));
  auto rej30 = sent_by(p, p.b);
  ASSERT_EQ(rej30.size(), 1u);
  const auto r30 = std::get<wire::Rej>(rej30[0].mad().message);
  EXPECT_EQ(r30.reason, wire::RejReason::DuplicateLocalCommId);
  EXPECT_EQ(r30.message_rejected, wire::MsgRef::Req);
  EXPECT_EQ(r30.remote_comm_id, dup.local_comm_id);
  EXPECT_EQ(r30.local_comm_id, 0u);
  EXPECT_EQ(p.b.counters().drop(Drop::WrongSource), 1u);
  EXPECT_EQ(p.b.counters().of(CountedMsg::Req).rx_duplicates, 0u);
  // At A it names A's connection but no comm ID of B's: A keeps the connection.
  p.a.handle_mad(p.now, p.b.config().local, rej30[0].bytes);
  EXPECT_EQ(p.a.state(ca), State::Established);
  p.in_flight.clear();

  // Another CA GUID: another CA's first REQ, not a duplicate, and nothing to do with cb.
  wire::Req other_guid = dup;
  other_guid.local_ca_guid ^= 0xFF00;
  p.b.handle_mad(p.now, p.a.config().local, wire::encode(wire::make_mad(other_guid, 2)));
  EXPECT_TRUE(sent_by(p, p.b).empty());
  auto req = p.last<ev::ReqReceived>(p.b_events);
  ASSERT_TRUE(req.has_value());
  EXPECT_NE(req->conn, cb);
  EXPECT_EQ(req->req.local_ca_guid, other_guid.local_ca_guid);

  EXPECT_EQ(p.b.state(cb), State::Established);
  EXPECT_FALSE(p.last<ev::StaleConnection>(p.b_events).has_value());
  EXPECT_EQ(p.b.counters().rej_sent_stale, 0u);

  // The true duplicate is counted as one.
  p.b.handle_mad(p.now, p.a.config().local, wire::encode(wire::make_mad(dup, 3)));
  EXPECT_EQ(p.b.counters().of(CountedMsg::Req).rx_duplicates, 1u);
  EXPECT_EQ(p.b.counters().drop(Drop::WrongSource), 1u);
}
