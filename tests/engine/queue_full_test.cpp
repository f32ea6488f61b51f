// Full output queues never lose an event or a state change's answer: a received MAD is refused
// before anything changes unless both queues can take the most one MAD can produce (the sender's
// retry brings it back, as after a loss on the wire), due timers wait until the queues are
// drained, and a consumer call that would emit an event fails with QueueFull.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/pair.h"

using namespace ibcm;
using namespace ibcm::test;

namespace {
wire::MadBytes req_mad(const Pair& p, uint32_t comm_id, uint32_t qpn, uint64_t sid = 0x1234) {
  wire::Req r;
  r.local_comm_id = comm_id;
  r.local_ca_guid = p.a.config().ca_guid;
  r.local_qpn = qpn;
  r.service_id = sid;
  r.transport_service_type = wire::TransportType::RC;
  r.path_mtu = wire::Mtu::Mtu1024;
  r.primary.local_ack_timeout = 19;
  r.max_cm_retries = 15;
  return wire::encode(wire::make_mad(r, comm_id));
}

size_t drain_events(Cm& cm) {
  size_t n = 0;
  while (cm.poll_event()) ++n;
  return n;
}
size_t drain_transmits(Cm& cm) {
  size_t n = 0;
  while (cm.poll_transmit()) ++n;
  return n;
}
}  // namespace

TEST(QueueFull, MadIsRefusedBeforeAnyStateChangeUntilTheEventQueueHasRoom) {
  Pair p;
  Config c = config_of(2);
  c.max_pending_events = 2;  // one MAD may emit two events
  Cm b(c);
  ASSERT_TRUE(b.listen(0x1234).has_value());
  std::vector<std::string> lines;
  b.set_logger([&](LogLevel, std::string_view s) { lines.emplace_back(s); });
  const Address from = p.a.config().local;

  b.handle_mad(p.now, from, req_mad(p, 0x10, 0x100));
  EXPECT_EQ(b.connection_count(), 1u);  // one event waits: room for one more, not two
  b.handle_mad(p.now, from, req_mad(p, 0x11, 0x101));
  EXPECT_EQ(b.connection_count(), 1u);
  EXPECT_EQ(b.counters().of(CountedMsg::Req).rx, 1u);  // refused unread
  EXPECT_EQ(b.counters().drop(Drop::EventQueueFull), 1u);
  EXPECT_EQ(b.counters().total_drops(), 1u);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("REQ"), std::string::npos);
  EXPECT_EQ(drain_transmits(b), 0u);

  // Drained, the peer's retry of the same REQ is taken.
  EXPECT_EQ(drain_events(b), 1u);
  b.handle_mad(p.now, from, req_mad(p, 0x11, 0x101));
  EXPECT_EQ(b.connection_count(), 2u);
  auto e = b.poll_event();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(std::get<ev::ReqReceived>(*e).req.local_comm_id, 0x11u);
}

TEST(QueueFull, MadIsRefusedUntilTheTransmitQueueHasRoom) {
  Pair p;
  Config c = config_of(2);
  c.max_pending_tx = 2;  // one MAD may send two (a stale REQ: REJ 10 and DREQ)
  Cm b(c);
  const Address from = p.a.config().local;
  b.handle_mad(p.now, from, req_mad(p, 0x10, 0x100, 0x9));  // no listener: REJ 8 queued
  b.handle_mad(p.now, from, req_mad(p, 0x11, 0x101, 0x9));
  EXPECT_EQ(b.counters().drop(Drop::TxQueueFull), 1u);
  EXPECT_EQ(b.counters().of(CountedMsg::Rej).tx, 1u);
  EXPECT_EQ(drain_transmits(b), 1u);
  b.handle_mad(p.now, from, req_mad(p, 0x11, 0x101, 0x9));
  EXPECT_EQ(b.counters().of(CountedMsg::Rej).tx, 2u);
  EXPECT_EQ(b.counters().drop(Drop::TxQueueFull), 1u);
}

TEST(QueueFull, DueTimersWaitUntilTheEventsAreDrained) {
  Pair p;
  Config c = config_of(1);
  c.max_pending_events = 2;
  Cm a(c);
  std::vector<ConnId> ids;
  for (uint32_t q = 0; q < 3; ++q) {
    ConnectParams cp = p.params(0x100 + q);
    cp.max_cm_retries = 0;  // the first timer ends the attempt: REJ 4 and req_timeout
    auto id = a.connect(p.now, cp);
    ASSERT_TRUE(id.has_value());
    ids.push_back(*id);
  }
  drain_transmits(a);
  const Time due = *a.next_timeout();
  a.handle_timeout(due + Time{1000});
  EXPECT_EQ(drain_transmits(a), 2u);  // two REJ 4; the third timer holds
  EXPECT_FALSE(a.state(ids[0]).has_value());
  EXPECT_FALSE(a.state(ids[1]).has_value());
  EXPECT_EQ(a.state(ids[2]), State::ReqSent);
  EXPECT_EQ(a.counters().timers_held, 1u);
  EXPECT_EQ(a.next_timeout(), due);  // in the past: run me again

  // Still full: nothing moves, however late.
  a.handle_timeout(due + Time{2000});
  EXPECT_EQ(a.state(ids[2]), State::ReqSent);
  EXPECT_EQ(a.counters().timers_held, 2u);

  EXPECT_EQ(drain_events(a), 2u);
  a.handle_timeout(due + Time{3000});
  EXPECT_FALSE(a.state(ids[2]).has_value());
  auto e = a.poll_event();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(std::get<ev::ReqTimeout>(*e).conn, ids[2]);
  EXPECT_EQ(a.timer_count(), 0u);
  EXPECT_EQ(a.counters().drop(Drop::EventQueueFull), 0u);
}

TEST(QueueFull, ConsumerCallThatEmitsFailsWithQueueFullAndChangesNothing) {
  Pair p;
  Config c = config_of(1);
  c.max_pending_events = 2;
  p.a = Cm(c);
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto ca = p.a.connect(p.now, p.params(0x100));
  ASSERT_TRUE(ca.has_value());
  ConnectParams lost = p.params(0x101);
  lost.dest = addr_of(9);  // nobody: its REQ times out
  lost.max_cm_retries = 0;
  ASSERT_TRUE(p.a.connect(p.now, lost).has_value());
  // B answers the first REQ; A's events are left in its queue.
  while (auto t = p.a.poll_transmit())
    if (t->to == p.b.config().local) p.b.handle_mad(p.now, p.a.config().local, t->mad);
  auto req = p.b.poll_event();
  ASSERT_TRUE(req.has_value());
  AcceptParams ap;
  ap.qpn = 0x200;
  ASSERT_TRUE(p.b.accept(p.now, std::get<ev::ReqReceived>(*req).conn, ap).has_value());
  auto rep = p.b.poll_transmit();
  ASSERT_TRUE(rep.has_value());
  p.a.handle_mad(p.now, p.b.config().local, rep->mad);  // rep_received: 1 event
  p.a.handle_timeout(*p.a.next_timeout());              // req_timeout: 2 events, full
  ASSERT_EQ(p.a.state(*ca), State::RepRcvd);
  drain_transmits(p.a);

  EXPECT_EQ(p.a.send_rtu(p.now, *ca).error(), Error::QueueFull);
  EXPECT_EQ(p.a.state(*ca), State::RepRcvd);
  EXPECT_EQ(drain_transmits(p.a), 0u);

  EXPECT_EQ(drain_events(p.a), 2u);
  ASSERT_TRUE(p.a.send_rtu(p.now, *ca).has_value());
  EXPECT_EQ(p.a.state(*ca), State::Established);
  auto e = p.a.poll_event();
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(std::holds_alternative<ev::Established>(*e));
}
