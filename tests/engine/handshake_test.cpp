#include <gtest/gtest.h>

#include <set>

#include "engine/pair.h"
#include "ibcm/wire/time.h"

using namespace ibcm;
using namespace ibcm::test;
using wire::cm_time;

TEST(Handshake, ReqRepRtuEstablishesBothSides) {
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto ca = p.a.connect(p.now, p.params(0x100));
  ASSERT_TRUE(ca.has_value());
  EXPECT_EQ(p.a.state(*ca), State::ReqSent);

  Wire req = p.deliver_one();
  ASSERT_TRUE(std::holds_alternative<wire::Req>(req.mad().message));
  const auto r = std::get<wire::Req>(req.mad().message);
  EXPECT_EQ(r.local_comm_id, *ca);
  EXPECT_EQ(r.local_qpn, 0x100u);
  EXPECT_EQ(r.local_ca_guid, p.a.config().ca_guid);
  EXPECT_EQ(r.max_cm_retries, 15);

  auto got = p.last<ev::ReqReceived>(p.b_events);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->req.local_qpn, 0x100u);
  EXPECT_EQ(p.b.state(got->conn), State::ReqRcvd);

  AcceptParams ap;
  ap.qpn = 0x200;
  ap.psn = 0x777;
  ASSERT_TRUE(p.b.accept(p.now, got->conn, ap).has_value());
  EXPECT_EQ(p.b.state(got->conn), State::RepSent);
  Wire rep = p.deliver_one();
  const auto rp = std::get<wire::Rep>(rep.mad().message);
  EXPECT_EQ(rp.remote_comm_id, *ca);
  EXPECT_EQ(rp.local_comm_id, got->conn);
  EXPECT_EQ(rep.mad().header.transaction_id, req.mad().header.transaction_id);
  EXPECT_EQ(p.a.state(*ca), State::RepRcvd);

  // QP attributes for the active side's RTR/RTS: the REP names the QP; each side receives from
  // the PSN it advertised and sends from the one its peer advertised, as Linux does.
  auto rtr = p.a.qp_attributes(*ca, QpState::Rtr);
  ASSERT_TRUE(rtr.has_value());
  EXPECT_EQ(rtr->dest_qpn, 0x200u);
  EXPECT_EQ(rtr->rq_psn, 0x555u);
  auto rts = p.a.qp_attributes(*ca, QpState::Rts);
  ASSERT_TRUE(rts.has_value());
  EXPECT_EQ(rts->sq_psn, 0x777u);
  EXPECT_EQ(rts->timeout, 19);

  ASSERT_TRUE(p.a.send_rtu(p.now, *ca).has_value());
  EXPECT_EQ(p.a.state(*ca), State::Established);
  p.deliver_one();
  EXPECT_EQ(p.b.state(got->conn), State::Established);
  EXPECT_TRUE(p.last<ev::Established>(p.a_events).has_value());
  EXPECT_TRUE(p.last<ev::RtuReceived>(p.b_events).has_value());
  auto b_rtr = p.b.qp_attributes(got->conn, QpState::Rtr);
  ASSERT_TRUE(b_rtr.has_value());
  EXPECT_EQ(b_rtr->dest_qpn, 0x100u);
  EXPECT_EQ(b_rtr->rq_psn, 0x777u);
  auto b_rts = p.b.qp_attributes(got->conn, QpState::Rts);
  ASSERT_TRUE(b_rts.has_value());
  EXPECT_EQ(b_rts->sq_psn, 0x555u) << "what A's receive queue expects";

  // Nothing retransmits once established: no timers left on either side.
  EXPECT_EQ(p.a.timer_count(), 0u);
  EXPECT_EQ(p.b.timer_count(), 0u);
  EXPECT_EQ(p.a.counters().of(CountedMsg::Req).tx, 1u);
  EXPECT_EQ(p.b.counters().of(CountedMsg::Req).rx, 1u);
  EXPECT_EQ(p.b.counters().of(CountedMsg::Rtu).rx, 1u);
}

TEST(Handshake, ReqForUnlistenedServiceGetsRej8) {
  Pair p;
  auto ca = p.a.connect(p.now, p.params(0x100, 0x9999));
  ASSERT_TRUE(ca.has_value());
  p.deliver_one();  // REQ
  Wire rej = p.deliver_one();
  const auto r = std::get<wire::Rej>(rej.mad().message);
  EXPECT_EQ(r.reason, wire::RejReason::InvalidServiceId);
  EXPECT_EQ(r.message_rejected, wire::MsgRef::Req);
  auto ev = p.last<ev::RejReceived>(p.a_events);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->rej.reason, wire::RejReason::InvalidServiceId);
  EXPECT_FALSE(p.a.state(*ca).has_value());  // gone: no TIMEWAIT after a plain REJ
  EXPECT_EQ(p.a.timer_count(), 0u);
  EXPECT_EQ(p.b.connection_count(), 0u);
}

TEST(Handshake, ConsumerRejectCarriesReasonAriAndPrivateData) {
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto ca = p.a.connect(p.now, p.params(0x100));
  p.deliver_one();
  auto req = p.last<ev::ReqReceived>(p.b_events);
  uint8_t ari[3] = {1, 2, 3};
  uint8_t pd[4] = {9, 8, 7, 6};
  ASSERT_TRUE(p.b.reject(p.now, req->conn, wire::RejReason::ConsumerDefined, ari, pd).has_value());
  p.deliver_one();
  auto ev = p.last<ev::RejReceived>(p.a_events);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->rej.reason, wire::RejReason::ConsumerDefined);
  EXPECT_EQ(ev->rej.rejected_info_length, 3);
  EXPECT_EQ(ev->rej.ari[2], 3);
  EXPECT_EQ(ev->rej.private_data[0], 9);
  EXPECT_EQ(ev->prior, State::ReqSent);
  EXPECT_FALSE(p.a.state(*ca).has_value());
}

TEST(Handshake, CommunicationEstablishedBeforeRtu) {
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto ca = p.a.connect(p.now, p.params(0x100));
  p.deliver_one();
  auto req = p.last<ev::ReqReceived>(p.b_events);
  AcceptParams ap;
  ap.qpn = 0x200;
  ASSERT_TRUE(p.b.accept(p.now, req->conn, ap).has_value());
  p.deliver_one();
  ASSERT_TRUE(p.b.establish(p.now, req->conn).has_value());
  EXPECT_EQ(p.b.state(req->conn), State::Established);
  EXPECT_EQ(p.b.timer_count(), 0u);  // the REP is no longer retried
  ASSERT_TRUE(p.a.send_rtu(p.now, *ca).has_value());
  p.deliver_one();  // the late RTU is a harmless duplicate
  EXPECT_EQ(p.b.counters().of(CountedMsg::Rtu).rx_duplicates, 1u);
}

TEST(Handshake, CommIdsAreUniqueAndNotSequential) {
  Pair p;
  std::set<ConnId> ids;
  int sequential = 0;
  ConnId prev = 0, first = 0;
  for (uint32_t q = 1; q <= 2000; ++q) {
    auto c = p.a.connect(p.now, p.params(q));
    ASSERT_TRUE(c.has_value());
    EXPECT_NE(*c, 0u);
    EXPECT_TRUE(ids.insert(*c).second);
    if (q == 1) first = *c;
    if (*c == prev + 1) ++sequential;
    prev = *c;
  }
  EXPECT_LT(sequential, 3);
  // A different seed gives a different sequence.
  Pair other(2);
  auto c = other.a.connect(other.now, other.params(1));
  ASSERT_TRUE(c.has_value());
  EXPECT_NE(*c, first);
}

TEST(Handshake, LocalQpnOfALiveConnectionCannotBeReused) {
  Pair p;
  p.connect(0x100, 0x200);
  auto again = p.a.connect(p.now, p.params(0x100));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error(), Error::QpnInUse);
}

// INIT (and ERR) attributes are at hand from the start, on both sides: the P_Key and Q_Key the
// connection uses. RTR needs the peer's QPN, which the active side learns only from the REP.
TEST(Handshake, QpAttributesForInitBeforeThePeerIsKnown) {
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto params = p.params(0x100);
  params.pkey = 0x8123;
  params.qkey = 0x11223344;
  auto ca = p.a.connect(p.now, params);
  ASSERT_TRUE(ca.has_value());
  auto init = p.a.qp_attributes(*ca, QpState::Init);
  ASSERT_TRUE(init.has_value());
  EXPECT_EQ(init->state, QpState::Init);
  EXPECT_EQ(init->pkey, 0x8123);
  EXPECT_EQ(init->qkey, 0x11223344u);
  EXPECT_EQ(init->dest_qpn, 0u);
  EXPECT_EQ(p.a.qp_attributes(*ca, QpState::Rtr).error(), Error::InvalidState);
  EXPECT_EQ(p.a.qp_attributes(*ca, QpState::Rts).error(), Error::InvalidState);

  p.deliver_one();  // REQ: the passive side takes the keys from it
  auto req = p.last<ev::ReqReceived>(p.b_events);
  ASSERT_TRUE(req.has_value());
  auto b_init = p.b.qp_attributes(req->conn, QpState::Init);
  ASSERT_TRUE(b_init.has_value());
  EXPECT_EQ(b_init->state, QpState::Init);
  EXPECT_EQ(b_init->pkey, 0x8123);
  EXPECT_EQ(b_init->qkey, 0x11223344u);
  EXPECT_EQ(p.b.qp_attributes(0xdeadbeef, QpState::Init).error(), Error::UnknownConnection);
}

TEST(Handshake, ReqAfterUnlistenGetsRej8) {
  Pair p;
  auto id = p.b.listen(0x1234);
  ASSERT_TRUE(id.has_value());
  ASSERT_TRUE(p.b.unlisten(*id).has_value());
  EXPECT_EQ(p.b.unlisten(*id).error(), Error::UnknownListener);  // once only
  auto ca = p.a.connect(p.now, p.params(0x100));
  ASSERT_TRUE(ca.has_value());
  p.deliver_one();  // REQ
  Wire rej = p.deliver_one();
  ASSERT_TRUE(std::holds_alternative<wire::Rej>(rej.mad().message));
  EXPECT_EQ(std::get<wire::Rej>(rej.mad().message).reason, wire::RejReason::InvalidServiceId);
  EXPECT_FALSE(p.last<ev::ReqReceived>(p.b_events).has_value());
  EXPECT_EQ(p.b.connection_count(), 0u);
  EXPECT_FALSE(p.a.state(*ca).has_value());
  // The service can be listened on again, and then a REQ gets through.
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  ASSERT_TRUE(p.a.connect(p.now, p.params(0x101)).has_value());
  p.deliver_one();
  EXPECT_TRUE(p.last<ev::ReqReceived>(p.b_events).has_value());
}

// The most specific listener takes a REQ, in whichever order the listeners were made: a
// catch-all (a mask over the upper bytes) sees only the services nobody listens on exactly.
TEST(Handshake, MostSpecificListenerTakesTheReq) {
  Pair p;
  auto wide = p.b.listen(0x1200, ~uint64_t{0xFF});
  auto exact = p.b.listen(0x1234);
  auto wider = p.b.listen(0x1000, ~uint64_t{0xFFF});
  ASSERT_TRUE(wide && exact && wider);
  auto to = [&](uint64_t sid, uint32_t qpn) {
    EXPECT_TRUE(p.a.connect(p.now, p.params(qpn, sid)).has_value());
    p.deliver_one();
    auto r = p.last<ev::ReqReceived>(p.b_events);
    return r ? r->listener : ListenId{0};
  };
  EXPECT_EQ(to(0x1234, 0x100), *exact);
  EXPECT_EQ(to(0x1235, 0x101), *wide);
  EXPECT_EQ(to(0x1335, 0x102), *wider);
  ASSERT_TRUE(p.b.unlisten(*exact).has_value());
  EXPECT_EQ(to(0x1234, 0x103), *wide);
}

// RD needs an end-to-end context the engine does not have, and an extended transport other than
// XRC is unknown: such a REQ gets REJ 9 (invalid transport service type) and makes no
// connection. UC and XRC are accepted like RC.
struct TransportCase {
  wire::TransportType type;
  wire::ExtendedTransport extended;
  bool accepted;
  const char* name;
};

class HandshakeTransport : public ::testing::TestWithParam<TransportCase> {};

TEST_P(HandshakeTransport, ReqIsAcceptedOrGetsRej9) {
  const TransportCase t = GetParam();
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto params = p.params(0x100);
  params.transport = t.type;
  params.extended = t.extended;
  auto ca = p.a.connect(p.now, params);
  ASSERT_TRUE(ca.has_value());
  p.deliver_one();  // REQ
  auto req = p.last<ev::ReqReceived>(p.b_events);
  if (t.accepted) {
    ASSERT_TRUE(req.has_value());
    EXPECT_EQ(req->req.transport_service_type, t.type);
    EXPECT_EQ(p.b.state(req->conn), State::ReqRcvd);
    EXPECT_TRUE(p.in_flight.empty());
    return;
  }
  EXPECT_FALSE(req.has_value());
  EXPECT_EQ(p.b.connection_count(), 0u);
  Wire rej = p.deliver_one();
  ASSERT_TRUE(std::holds_alternative<wire::Rej>(rej.mad().message));
  const auto r = std::get<wire::Rej>(rej.mad().message);
  EXPECT_EQ(r.reason, wire::RejReason::InvalidTransportType);
  EXPECT_EQ(r.message_rejected, wire::MsgRef::Req);
  EXPECT_EQ(r.remote_comm_id, *ca);
  auto got = p.last<ev::RejReceived>(p.a_events);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->rej.reason, wire::RejReason::InvalidTransportType);
  EXPECT_FALSE(p.a.state(*ca).has_value());
}

INSTANTIATE_TEST_SUITE_P(
    Types, HandshakeTransport,
    ::testing::Values(
        TransportCase{wire::TransportType::RC, wire::ExtendedTransport::None, true, "RC"},
        TransportCase{wire::TransportType::UC, wire::ExtendedTransport::None, true, "UC"},
        TransportCase{wire::TransportType::Extended, wire::ExtendedTransport::XRC, true, "XRC"},
        TransportCase{wire::TransportType::RD, wire::ExtendedTransport::None, false, "RD"},
        TransportCase{wire::TransportType::Extended, wire::ExtendedTransport::None, false,
                      "ExtendedNotXrc"}),
    [](const auto& info) { return std::string(info.param.name); });

// PathPacketPayloadMTU is 1 (256) to 5 (4096); the other encodings are reserved: REJ 26, and no
// connection is made on either side (a peer's REQ: connect() refuses to send one). A valid MTU
// still connects.
TEST(Handshake, ReqWithAReservedMtuGetsRej26) {
  for (uint8_t mtu : {0, 1, 5, 6, 15}) {
    SCOPED_TRACE(static_cast<int>(mtu));
    const bool valid = mtu >= 1 && mtu <= 5;
    Pair p;
    auto bad = p.params(0x100);
    bad.mtu = static_cast<wire::Mtu>(mtu);
    if (!valid) {
      auto refused = p.a.connect(p.now, bad);
      ASSERT_FALSE(refused.has_value());
      EXPECT_EQ(refused.error(), Error::InvalidArgument);
    }
    ConnId ca = p.req_in_flight();
    p.change_req([mtu](wire::Req& r) { r.path_mtu = static_cast<wire::Mtu>(mtu); });
    p.deliver_one();
    auto got = p.last<ev::ReqReceived>(p.b_events);
    if (valid) {
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(static_cast<uint8_t>(got->req.path_mtu), mtu);
      continue;
    }
    EXPECT_FALSE(got.has_value());
    EXPECT_EQ(p.b.connection_count(), 0u);
    EXPECT_EQ(p.deliver_rej(ca).reason, wire::RejReason::InvalidMtu);
    EXPECT_FALSE(p.a.state(ca).has_value());
  }
}

// PrimaryPacketRate and AlternatePacketRate are encoded as a PathRecord's Rate: 2..25, and 0
// (Linux's rdma_cm sends it for a link of unknown speed); 1 and 26..63 are reserved whatever the
// port: REJ 17 for the primary path, 23 for an alternate one (present: its local LID is set), and
// no connection. The alternate's rate is not looked at when there is no alternate path. connect()
// refuses to send such a REQ.
TEST(Handshake, ReqWithAReservedPacketRateGetsRej17Or23) {
  struct Case {
    uint8_t rate;
    bool alternate;  // the rate is the alternate path's (else the primary's)
    bool alt_present;
  };
  for (Case k :
       {Case{0, false, false}, Case{1, false, false}, Case{2, false, false}, Case{25, false, false},
        Case{26, false, false}, Case{63, false, false}, Case{3, true, true}, Case{1, true, true},
        Case{63, true, true}, Case{63, true, false}}) {
    SCOPED_TRACE(std::to_string(k.rate) + (k.alternate ? " alternate" : " primary") +
                 (k.alt_present ? "" : ", no alternate path"));
    const bool valid = k.rate != 1 && k.rate <= 25;
    const bool rejects = !valid && (!k.alternate || k.alt_present);
    Pair p;
    if (rejects) {
      auto bad = p.params(0x100);
      if (k.alternate) {
        bad.alternate = bad.primary;
        bad.alternate->packet_rate = k.rate;
      } else {
        bad.primary.packet_rate = k.rate;
      }
      auto refused = p.a.connect(p.now, bad);
      ASSERT_FALSE(refused.has_value());
      EXPECT_EQ(refused.error(), Error::InvalidArgument);
    }
    ConnId ca = p.req_in_flight();
    p.change_req([k](wire::Req& req) {
      if (!k.alternate) {
        req.primary.packet_rate = k.rate;
        return;
      }
      req.alternate = req.primary;  // another path between the same ports
      req.alternate.local_lid = k.alt_present ? 0xFFFF : 0;
      if (!k.alt_present) req.alternate.local_gid = wire::Gid{};
      req.alternate.packet_rate = k.rate;
    });
    p.deliver_one();
    auto got = p.last<ev::ReqReceived>(p.b_events);
    if (!rejects) {
      ASSERT_TRUE(got.has_value());
      continue;
    }
    EXPECT_FALSE(got.has_value());
    EXPECT_EQ(p.b.connection_count(), 0u);
    const auto r = p.deliver_rej(ca);
    EXPECT_EQ(r.reason, k.alternate ? wire::RejReason::InvalidAltPacketRate
                                    : wire::RejReason::InvalidPacketRate);
    EXPECT_EQ(r.message_rejected, wire::MsgRef::Req);
    EXPECT_FALSE(p.a.state(ca).has_value());
  }
}

// Config::check_req_gid: a REQ must name this port's GID as its PrimaryRemotePortGID, or it gets
// REJ 12 with that GID in the ARI; off (the default), and with an unspecified local GID (a
// transport bound to every address), any GID is taken.
TEST(Handshake, ReqForAnotherGidGetsRej12WhenThePortHasOneGid) {
  const wire::Gid elsewhere{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  struct Case {
    bool check;
    bool unspecified_local;
    const char* name;
  };
  for (Case k : {Case{true, false, "checked"}, Case{false, false, "off"},
                 Case{true, true, "bound to every address"}}) {
    SCOPED_TRACE(k.name);
    Config cb = config_of(2);
    cb.check_req_gid = k.check;
    if (k.unspecified_local) cb.local.gid = wire::Gid{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    Pair p(config_of(1), cb);
    ASSERT_TRUE(p.b.listen(0x1234).has_value());
    auto ok = p.a.connect(p.now, p.params(0x100));  // for b's own GID
    ASSERT_TRUE(ok.has_value());
    auto wrong = p.params(0x101);
    wrong.primary.remote_gid = elsewhere;
    auto ca = p.a.connect(p.now, wrong);
    ASSERT_TRUE(ca.has_value());
    const bool rejects = k.check && !k.unspecified_local;
    p.deliver_one();  // the REQ for b's own GID
    EXPECT_EQ(p.b.connection_count(), 1u);
    p.deliver_one();  // the REQ for another GID
    EXPECT_EQ(p.b.connection_count(), rejects ? 1u : 2u);
    if (!rejects) continue;
    Wire rej = p.deliver_one();
    ASSERT_TRUE(std::holds_alternative<wire::Rej>(rej.mad().message));
    const auto r = std::get<wire::Rej>(rej.mad().message);
    EXPECT_EQ(r.reason, wire::RejReason::InvalidGid);
    EXPECT_EQ(r.remote_comm_id, *ca);
    ASSERT_EQ(r.rejected_info_length, 16u);
    EXPECT_TRUE(std::equal(cb.local.gid.begin(), cb.local.gid.end(), r.ari.begin()));
    EXPECT_FALSE(p.a.state(*ca).has_value());
    EXPECT_TRUE(p.a.state(*ok).has_value());
  }
}

// The same for the alternate path (present: its local LID is set): on a port with one GID it can
// only be another path to that GID; another GID gets REJ 18 with the port's GID in the ARI.
TEST(Handshake, ReqWhoseAlternatePathIsForAnotherGidGetsRej18) {
  const wire::Gid elsewhere{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  for (bool other : {false, true}) {
    SCOPED_TRACE(other ? "another GID" : "the port's GID");
    Config cb = config_of(2);
    cb.check_req_gid = true;
    Pair p(config_of(1), cb);
    ConnId ca = p.req_in_flight();
    p.change_req([&](wire::Req& req) {
      req.alternate = req.primary;
      req.alternate.local_lid = 0xFFFF;
      req.alternate.flow_label ^= 1;
      if (other) req.alternate.remote_gid = elsewhere;
    });
    p.deliver_one();
    EXPECT_EQ(p.b.connection_count(), other ? 0u : 1u);
    if (!other) continue;
    const auto r = p.deliver_rej(ca);
    EXPECT_EQ(r.reason, wire::RejReason::InvalidAltGid);
    ASSERT_EQ(r.rejected_info_length, 16u);
    EXPECT_TRUE(std::equal(cb.local.gid.begin(), cb.local.gid.end(), r.ari.begin()));
    EXPECT_FALSE(p.a.state(ca).has_value());
  }
}
