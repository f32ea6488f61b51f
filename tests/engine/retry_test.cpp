#include <gtest/gtest.h>

#include "engine/pair.h"
#include "ibcm/wire/time.h"

using namespace ibcm;
using namespace ibcm::test;
using wire::cm_time;

namespace {
// 2 x PacketLifeTime + RemoteCMResponseTimeout, with the Pair's parameters (18, 20).
const Time kReqInterval = 2 * cm_time(18) + cm_time(20);
}  // namespace

TEST(Retry, ReqIsResentAtTheSpecIntervalThenRej4WithCaGuid) {
  Pair p;
  auto params = p.params(0x100);
  params.max_cm_retries = 3;
  auto ca = p.a.connect(p.now, params);
  ASSERT_TRUE(ca.has_value());
  p.drop_one();  // the REQ, and every retry, is lost
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(p.a.next_timeout().value(), kReqInterval * i);
    p.advance_to(kReqInterval * i - Time(1));
    EXPECT_TRUE(p.in_flight.empty()) << "retry " << i << " came early";
    p.advance_to(kReqInterval * i);
    ASSERT_EQ(p.in_flight.size(), 1u);
    Wire w = p.drop_one();
    EXPECT_TRUE(std::holds_alternative<wire::Req>(w.mad().message));
  }
  EXPECT_EQ(p.a.counters().of(CountedMsg::Req).tx, 4u);
  EXPECT_EQ(p.a.counters().of(CountedMsg::Req).tx_retries, 3u);
  p.advance_to(kReqInterval * 4);
  ASSERT_EQ(p.in_flight.size(), 1u);
  Wire rej = p.drop_one();
  const auto r = std::get<wire::Rej>(rej.mad().message);
  EXPECT_EQ(r.reason, wire::RejReason::Timeout);
  EXPECT_EQ(r.rejected_info_length, 8);
  uint64_t guid = 0;
  for (int i = 0; i < 8; ++i) guid = guid << 8 | r.ari[i];
  EXPECT_EQ(guid, p.a.config().ca_guid);
  EXPECT_TRUE(p.last<ev::ReqTimeout>(p.a_events).has_value());
  EXPECT_FALSE(p.a.state(*ca).has_value());
  EXPECT_EQ(p.a.timer_count(), 0u);
  EXPECT_EQ(p.a.connection_count(), 0u);
}

TEST(Retry, LostReqIsRecoveredByRetry) {
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto ca = p.a.connect(p.now, p.params(0x100));
  p.drop_one();
  p.advance_to(kReqInterval);
  p.deliver_one();
  EXPECT_TRUE(p.last<ev::ReqReceived>(p.b_events).has_value());
  EXPECT_EQ(p.a.state(*ca), State::ReqSent);
}

TEST(Retry, MraExtendsTheWaitThenRetriesResume) {
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto ca = p.a.connect(p.now, p.params(0x100));
  p.deliver_one();
  auto req = p.last<ev::ReqReceived>(p.b_events);
  ASSERT_TRUE(p.b.send_mra(p.now, req->conn, 24).has_value());
  EXPECT_EQ(p.b.state(req->conn), State::MraReqSent);
  Wire mra = p.deliver_one();
  EXPECT_EQ(std::get<wire::Mra>(mra.mad().message).message_mraed, wire::MsgRef::Req);
  EXPECT_EQ(p.a.state(*ca), State::MraReqRcvd);
  EXPECT_TRUE(p.last<ev::MraReceived>(p.a_events).has_value());
  // ServiceTimeout + PacketLifeTime, not the REQ interval.
  EXPECT_EQ(p.a.next_timeout().value(), cm_time(24) + cm_time(18));
  p.advance_to(kReqInterval * 2);
  EXPECT_TRUE(p.in_flight.empty());
  // A duplicate REQ (the retry after the wait) gets the MRA again.
  p.advance_to(cm_time(24) + cm_time(18));
  Wire again = p.deliver_one();
  EXPECT_TRUE(std::holds_alternative<wire::Req>(again.mad().message));
  Wire mra2 = p.deliver_one();
  EXPECT_TRUE(std::holds_alternative<wire::Mra>(mra2.mad().message));
  EXPECT_EQ(p.b.counters().of(CountedMsg::Req).rx_duplicates, 1u);
  // The slow side accepts at last and the connection completes.
  AcceptParams ap;
  ap.qpn = 0x200;
  ASSERT_TRUE(p.b.accept(p.now, req->conn, ap).has_value());
  p.deliver_all();
  ASSERT_TRUE(p.a.send_rtu(p.now, *ca).has_value());
  p.deliver_all();
  EXPECT_EQ(p.b.state(req->conn), State::Established);
}

TEST(Retry, LostRepIsResentAndRtuFollows) {
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto ca = p.a.connect(p.now, p.params(0x100));
  p.deliver_one();
  auto req = p.last<ev::ReqReceived>(p.b_events);
  AcceptParams ap;
  ap.qpn = 0x200;
  ASSERT_TRUE(p.b.accept(p.now, req->conn, ap).has_value());
  p.drop_one();  // REP lost
  // The passive side waits LocalCMResponseTimeout (ours: 20) + 2 x PacketLifeTime (from the
  // REQ's local ACK timeout 19 - 1 = 18).
  Time rep_interval = 2 * cm_time(18) + cm_time(20);
  EXPECT_EQ(p.b.next_timeout().value(), rep_interval);
  // Meanwhile A's REQ retry reaches B as a duplicate, which B drops (its REP retry answers it).
  p.run_timers_until(rep_interval);
  p.deliver_all();
  EXPECT_EQ(p.a.state(*ca), State::RepRcvd);
  ASSERT_TRUE(p.a.send_rtu(p.now, *ca).has_value());
  p.deliver_all();
  EXPECT_EQ(p.b.state(req->conn), State::Established);
}

TEST(Retry, LostRtuIsRecoveredThroughTheRepRetry) {
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto ca = p.a.connect(p.now, p.params(0x100));
  p.deliver_one();
  auto req = p.last<ev::ReqReceived>(p.b_events);
  AcceptParams ap;
  ap.qpn = 0x200;
  ASSERT_TRUE(p.b.accept(p.now, req->conn, ap).has_value());
  p.deliver_one();
  ASSERT_TRUE(p.a.send_rtu(p.now, *ca).has_value());
  p.drop_one();  // RTU lost
  p.advance_to(*p.b.next_timeout());
  Wire rep = p.deliver_one();  // REP retry: a duplicate for A, which re-sends the RTU
  EXPECT_TRUE(std::holds_alternative<wire::Rep>(rep.mad().message));
  Wire rtu = p.deliver_one();
  EXPECT_TRUE(std::holds_alternative<wire::Rtu>(rtu.mad().message));
  EXPECT_EQ(p.b.state(req->conn), State::Established);
  EXPECT_EQ(p.a.counters().of(CountedMsg::Rep).rx_duplicates, 1u);
}

TEST(Retry, RepTimeoutSendsRej4AndEntersTimeWait) {
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto params = p.params(0x100);
  params.max_cm_retries = 2;
  auto ca = p.a.connect(p.now, params);
  p.deliver_one();
  auto req = p.last<ev::ReqReceived>(p.b_events);
  AcceptParams ap;
  ap.qpn = 0x200;
  ASSERT_TRUE(p.b.accept(p.now, req->conn, ap).has_value());
  p.a.destroy(p.now, *ca);  // A vanishes silently
  p.in_flight.clear();
  p.collect();
  p.in_flight.clear();
  p.run_timers_until(Time(std::chrono::seconds(60)));
  auto rej = std::find_if(p.b_events.begin(), p.b_events.end(),
                          [](const Event& e) { return std::holds_alternative<ev::RepTimeout>(e); });
  EXPECT_NE(rej, p.b_events.end());
  EXPECT_TRUE(p.last<ev::TimeWaitExit>(p.b_events).has_value());
  EXPECT_EQ(p.b.connection_count(), 0u);
  EXPECT_EQ(p.b.counters().of(CountedMsg::Rep).tx, 3u);
  EXPECT_EQ(p.b.counters().of(CountedMsg::Rej).tx, 1u);
}

// The RTU and every REP retry after it are lost: B gives up (REP timeout, REJ 4) while A, having
// sent its RTU, is ESTABLISHED. The REJ reaches A: A must not go on holding a connection B no
// longer has (a stale connection of its own making). It is told (RejReceived, prior ESTABLISHED,
// reason 4), keeps its QPN in TIMEWAIT, then lets it go.
TEST(Retry, RejAfterRepTimeoutEndsTheActiveSidesEstablishedConnection) {
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto params = p.params(0x100);
  params.max_cm_retries = 2;
  auto ca = p.a.connect(p.now, params);
  p.deliver_one();
  auto req = p.last<ev::ReqReceived>(p.b_events);
  AcceptParams ap;
  ap.qpn = 0x200;
  ASSERT_TRUE(p.b.accept(p.now, req->conn, ap).has_value());
  p.deliver_one();  // REP
  ASSERT_TRUE(p.a.send_rtu(p.now, *ca).has_value());
  ASSERT_EQ(p.a.state(*ca), State::Established);
  p.drop_one();  // RTU lost
  for (int retry = 0; retry < 2; ++retry) {
    p.advance_to(*p.b.next_timeout());
    Wire rep = p.drop_one();  // every REP retry lost too
    ASSERT_TRUE(std::holds_alternative<wire::Rep>(rep.mad().message));
  }
  p.advance_to(*p.b.next_timeout());  // B's REP timeout
  ASSERT_TRUE(p.last<ev::RepTimeout>(p.b_events).has_value());
  Wire rej = p.deliver_one();
  ASSERT_TRUE(std::holds_alternative<wire::Rej>(rej.mad().message));
  EXPECT_EQ(std::get<wire::Rej>(rej.mad().message).reason, wire::RejReason::Timeout);

  auto told = p.last<ev::RejReceived>(p.a_events);
  ASSERT_TRUE(told.has_value());
  EXPECT_EQ(told->conn, *ca);
  EXPECT_EQ(told->prior, State::Established);
  EXPECT_EQ(told->rej.reason, wire::RejReason::Timeout);
  EXPECT_EQ(p.a.state(*ca), State::TimeWait);
  auto again = p.params(0x100);
  EXPECT_FALSE(p.a.connect(p.now, again).has_value()) << "QPN 0x100 must stay in TIMEWAIT";
  p.run_timers_until(p.now + std::chrono::seconds(60));
  EXPECT_TRUE(p.last<ev::TimeWaitExit>(p.a_events).has_value());
  EXPECT_EQ(p.a.connection_count(), 0u);
  EXPECT_EQ(p.b.connection_count(), 0u);
}
