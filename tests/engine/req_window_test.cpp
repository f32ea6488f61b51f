// Config::max_reqs_in_flight: at most that many REQs out to one peer and not yet answered; the
// connects beyond it keep their REQ and send it, in connect order, as the earlier ones are
// answered (REP, REJ, MRA) or given up (timeout, destroy).
#include <gtest/gtest.h>

#include "engine/pair.h"

using namespace ibcm;
using namespace ibcm::test;

namespace {

Config windowed(uint32_t window) {
  Config c = config_of(1);
  c.max_reqs_in_flight = window;
  return c;
}

// The REQs now in flight from A, as their LocalCommIDs, in order.
std::vector<ConnId> reqs_in_flight(Pair& p) {
  p.collect();
  std::vector<ConnId> out;
  for (const Wire& w : p.in_flight)
    if (w.attr() == static_cast<uint16_t>(wire::AttrId::Req))
      out.push_back(std::get<wire::Req>(w.mad().message).local_comm_id);
  return out;
}

std::vector<ConnId> connect_n(Pair& p, int n, uint32_t first_qpn = 0x100) {
  std::vector<ConnId> ids;
  for (int i = 0; i < n; ++i) {
    auto id = p.a.connect(p.now, p.params(first_qpn + static_cast<uint32_t>(i)));
    EXPECT_TRUE(id.has_value());
    if (id) ids.push_back(*id);
  }
  return ids;
}

// B accepts the REQ at the head of the wire; its REP goes back in flight.
void accept_next(Pair& p, uint32_t qpn) {
  p.deliver_one();
  auto req = p.last<ev::ReqReceived>(p.b_events);
  ASSERT_TRUE(req.has_value());
  AcceptParams ap;
  ap.qpn = qpn;
  ASSERT_TRUE(p.b.accept(p.now, req->conn, ap).has_value());
  p.collect();
}

}  // namespace

TEST(ReqWindow, NoLimitByDefault) {
  Pair p;
  connect_n(p, 5);
  EXPECT_EQ(reqs_in_flight(p).size(), 5u);
  EXPECT_EQ(p.a.counters().reqs_waited, 0u);
}

TEST(ReqWindow, ConnectsBeyondTheWindowWaitAndLeaveInOrderAsRepsComeIn) {
  Pair p(windowed(2), config_of(2));
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  std::vector<ConnId> ids = connect_n(p, 5);
  EXPECT_EQ(reqs_in_flight(p), (std::vector<ConnId>{ids[0], ids[1]}));
  EXPECT_EQ(p.a.counters().reqs_waited, 3u);
  EXPECT_EQ(p.a.timer_count(), 2u);  // a waiting REQ's timer starts when it leaves
  for (ConnId id : ids) EXPECT_EQ(p.a.state(id), State::ReqSent);

  accept_next(p, 0x200);  // REQ 1 -> REP 1 in flight after REQ 2
  accept_next(p, 0x201);  // REQ 2 -> REP 2
  EXPECT_TRUE(reqs_in_flight(p).empty());
  p.deliver_one();  // REP 1 at A: REQ 3 leaves
  EXPECT_EQ(reqs_in_flight(p), (std::vector<ConnId>{ids[2]}));
  p.deliver_one();  // REP 2: REQ 4
  EXPECT_EQ(reqs_in_flight(p), (std::vector<ConnId>{ids[2], ids[3]}));
  EXPECT_EQ(p.a.timer_count(), 2u);  // REQ 3's and 4's (1 and 2 wait for our RTU, untimed)
  EXPECT_EQ(p.a.counters().of(CountedMsg::Req).tx, 4u);
}

TEST(ReqWindow, RejMraAndTimeoutEachFreeAPlace) {
  Pair p(windowed(1), config_of(2));
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  std::vector<ConnId> ids = connect_n(p, 4);
  EXPECT_EQ(reqs_in_flight(p), (std::vector<ConnId>{ids[0]}));

  // REJ
  p.deliver_one();
  auto req = p.last<ev::ReqReceived>(p.b_events);
  ASSERT_TRUE(req.has_value());
  ASSERT_TRUE(p.b.reject(p.now, req->conn, wire::RejReason::ConsumerDefined).has_value());
  p.deliver_one();
  EXPECT_NE(p.a.state(ids[0]), State::ReqSent);
  EXPECT_EQ(reqs_in_flight(p), (std::vector<ConnId>{ids[1]}));

  // MRA: the peer has the REQ, and says it needs time to answer
  p.deliver_one();
  req = p.last<ev::ReqReceived>(p.b_events);
  ASSERT_TRUE(req.has_value());
  ASSERT_TRUE(p.b.send_mra(p.now, req->conn, 20).has_value());
  p.deliver_one();
  EXPECT_EQ(reqs_in_flight(p), (std::vector<ConnId>{ids[2]}));

  // Timeout: REQ 3 and each of its retries lost, until A gives up on it
  while (p.a.state(ids[2]) == State::ReqSent) {
    p.in_flight.clear();
    auto t = p.a.next_timeout();
    ASSERT_TRUE(t.has_value());
    p.advance_to(*t);
  }
  EXPECT_FALSE(p.events_of<ev::ReqTimeout>(p.a_events).empty());
  EXPECT_EQ(reqs_in_flight(p), (std::vector<ConnId>{ids[3]}));
}

TEST(ReqWindow, AConnectDestroyedWhileWaitingIsNeverSent) {
  Pair p(windowed(1), config_of(2));
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  std::vector<ConnId> ids = connect_n(p, 3);
  p.a.destroy(p.now, ids[1]);
  EXPECT_EQ(p.a.connection_count(), 2u);
  EXPECT_EQ(reqs_in_flight(p), (std::vector<ConnId>{ids[0]}));
  EXPECT_EQ(p.in_flight.size(), 1u);  // no REJ for a REQ that never left
  accept_next(p, 0x200);
  p.deliver_one();  // REP 1: the next waiting REQ is the third's, the second is gone
  EXPECT_EQ(reqs_in_flight(p), (std::vector<ConnId>{ids[2]}));
  EXPECT_EQ(p.a.counters().of(CountedMsg::Req).tx, 2u);

  // Destroying the one in flight frees its place as well: the window is empty and a new connect
  // leaves at once.
  p.in_flight.clear();
  p.a.destroy(p.now, ids[2]);
  p.collect();
  p.in_flight.clear();
  auto id = p.a.connect(p.now, p.params(0x300));
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(reqs_in_flight(p), (std::vector<ConnId>{*id}));
}

TEST(ReqWindow, EachPeerHasItsOwnWindow) {
  Pair p(windowed(1), config_of(2));
  connect_n(p, 2);  // to B, which never answers: the second waits
  ConnectParams other = fixture::connect_params(p.a.config().local, addr_of(3), 0x400, 0x1234);
  auto id = p.a.connect(p.now, other);
  ASSERT_TRUE(id.has_value());
  p.collect();
  ASSERT_EQ(p.in_flight.size(), 2u);
  EXPECT_EQ(p.in_flight[1].to.gid, addr_of(3).gid);
  EXPECT_EQ(std::get<wire::Req>(p.in_flight[1].mad().message).local_comm_id, *id);
}

// A REQ that finds no room in the transmit queue when its place frees stays waiting, and
// next_timeout() asks for a call at once, which sends it once the queue has room.
TEST(ReqWindow, AWaitingReqFindingTheTransmitQueueFullLeavesOnTheNextCall) {
  Config c = windowed(1);
  c.max_pending_tx = 2;
  Pair p(c, config_of(2));
  std::vector<ConnId> ids = connect_n(p, 2);  // REQ 1 queued, 2 waits
  ASSERT_TRUE(p.a.connect(p.now, fixture::connect_params(p.a.config().local, addr_of(3), 0x500, 1))
                  .has_value());                          // another peer's REQ: the queue is full
  p.a.destroy(p.now, ids[0]);                             // its place is free, the queue still full
  EXPECT_EQ(p.a.counters().drop(Drop::TxQueueFull), 1u);  // the destroyed one's REJ
  EXPECT_EQ(p.a.next_timeout(), p.now);
  p.collect();
  p.in_flight.clear();
  p.a.handle_timeout(p.now);
  EXPECT_EQ(reqs_in_flight(p), (std::vector<ConnId>{ids[1]}));
  EXPECT_NE(p.a.next_timeout(), p.now);
}
