// Resource limits on everything that grows (listeners, connections, SIDR entries, pending sends
// and events; timers are one per connection or SIDR entry, so they are bounded with them), and
// comm IDs that cannot be guessed from earlier ones.
#include <gtest/gtest.h>

#include <set>

#include "engine/pair.h"

using namespace ibcm;
using namespace ibcm::test;

TEST(Limits, ListenersConnectionsAndSidrStopWithLimitReached) {
  Config c = config_of(1);
  c.max_listeners = 2;
  c.max_connections = 3;
  c.max_sidr = 2;
  Cm cm(c);
  EXPECT_TRUE(cm.listen(1).has_value());
  EXPECT_TRUE(cm.listen(2).has_value());
  EXPECT_EQ(cm.listen(3).error(), Error::LimitReached);

  Pair p;
  for (uint32_t q = 1; q <= 3; ++q)
    EXPECT_TRUE(cm.connect(Time{0}, p.params(0x100 + q)).has_value());
  EXPECT_EQ(cm.connect(Time{0}, p.params(0x200)).error(), Error::LimitReached);
  EXPECT_EQ(cm.connection_count(), 3u);
  EXPECT_EQ(cm.timer_count(), 3u);  // one retry timer per connection, no more

  SidrParams sp;
  sp.service_id = 9;
  sp.dest = addr_of(2);
  EXPECT_TRUE(cm.sidr_request(Time{0}, sp).has_value());
  EXPECT_TRUE(cm.sidr_request(Time{0}, sp).has_value());
  EXPECT_EQ(cm.sidr_request(Time{0}, sp).error(), Error::LimitReached);
}

// Config::expected_connections makes room; it limits nothing: fewer expected than made still
// connects them all, and more expected than max_connections still stops at max_connections.
TEST(Limits, ExpectedConnectionsIsRoomNotALimit) {
  Pair p;
  for (uint32_t expected : {2u, 1000u}) {
    Config c = config_of(1);
    c.max_connections = 5;
    c.expected_connections = expected;
    Cm cm(c);
    for (uint32_t q = 1; q <= 5; ++q)
      EXPECT_TRUE(cm.connect(Time{0}, p.params(0x100 + q)).has_value()) << expected << " " << q;
    EXPECT_EQ(cm.connect(Time{0}, p.params(0x200)).error(), Error::LimitReached) << expected;
    EXPECT_EQ(cm.connection_count(), 5u);
  }
}

TEST(Limits, IncomingReqBeyondTheConnectionLimitGetsRej3) {
  Pair p;
  Config c = config_of(2);
  c.max_connections = 1;
  p.b = Cm(c);
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  ASSERT_TRUE(p.a.connect(p.now, p.params(0x100)).has_value());
  ASSERT_TRUE(p.a.connect(p.now, p.params(0x101)).has_value());
  p.deliver_one();
  Wire second = p.deliver_one();  // the second REQ
  (void)second;
  p.collect();
  ASSERT_FALSE(p.in_flight.empty());
  const auto rej = std::get<wire::Rej>(p.in_flight.back().mad().message);
  EXPECT_EQ(rej.reason, wire::RejReason::NoResources);
  EXPECT_EQ(p.b.counters().drop(Drop::LimitReached), 1u);
}

TEST(Limits, FullTransmitAndEventQueuesRefuseInputInsteadOfGrowing) {
  Config c = config_of(1);
  c.max_pending_tx = 2;
  c.max_pending_events = 1;  // raised to 2: one MAD's worst case
  Cm cm(c);
  Pair p;
  std::vector<ConnId> ids;
  for (uint32_t q = 1; q <= 3; ++q) {
    auto id = cm.connect(Time{0}, p.params(0x100 + q));
    ASSERT_TRUE(id.has_value());
    ids.push_back(*id);
  }
  EXPECT_EQ(cm.counters().drop(Drop::TxQueueFull), 1u);  // the third REQ waits for its retry
  int sent = 0;
  while (cm.poll_transmit()) ++sent;
  EXPECT_EQ(sent, 2);
  // The dropped REQ is not lost for good: its retry timer sends it. The retries find room for
  // two; the third timer waits until those are drained.
  const Time retry_at = *cm.next_timeout();
  cm.handle_timeout(retry_at);
  EXPECT_EQ(cm.counters().of(CountedMsg::Req).tx, 4u);
  EXPECT_EQ(cm.counters().timers_held, 1u);
  while (cm.poll_transmit()) {
  }
  cm.handle_timeout(retry_at);
  EXPECT_EQ(cm.counters().of(CountedMsg::Req).tx, 5u);
  EXPECT_EQ(cm.counters().of(CountedMsg::Req).tx_retries, 3u);
  while (cm.poll_transmit()) {
  }

  // Events: a REJ for each of the three REQs. The first is taken; while its event waits, the
  // queue has no room for the two a MAD may emit, so the others are refused unprocessed.
  auto rej_for = [&](uint32_t i) {
    wire::Rej r;
    r.local_comm_id = 0x77 + i;
    r.remote_comm_id = ids[i];
    r.reason = wire::RejReason::ConsumerDefined;
    r.message_rejected = wire::MsgRef::Req;
    cm.handle_mad(Time{0}, addr_of(2), wire::encode(wire::make_mad(r, i)));
  };
  for (uint32_t i = 0; i < 3; ++i) rej_for(i);
  EXPECT_EQ(cm.counters().drop(Drop::EventQueueFull), 2u);
  EXPECT_FALSE(cm.state(ids[0]).has_value());
  EXPECT_EQ(cm.state(ids[1]), State::ReqSent);
  EXPECT_EQ(cm.state(ids[2]), State::ReqSent);
  EXPECT_TRUE(cm.poll_event().has_value());
  EXPECT_FALSE(cm.poll_event().has_value());
  rej_for(1);  // drained: taken
  EXPECT_FALSE(cm.state(ids[1]).has_value());
  EXPECT_EQ(cm.counters().drop(Drop::EventQueueFull), 2u);
}

TEST(CommIds, UniqueAndNotGuessableFromEarlierOnes) {
  Pair p;
  std::vector<uint32_t> ids;
  Config c = config_of(1, 3);
  c.max_connections = 20'000;
  Cm cm(c);
  for (uint32_t q = 0; q < 10'000; ++q) {
    auto id = cm.connect(Time{0}, p.params(0x1000 + q));
    ASSERT_TRUE(id.has_value());
    ids.push_back(*id);
    while (cm.poll_transmit()) {
    }
  }
  EXPECT_EQ(std::set<uint32_t>(ids.begin(), ids.end()).size(), ids.size());
  // No arithmetic pattern: successive differences are (almost) all distinct, and every bit
  // position flips about half the time.
  std::set<uint32_t> diffs;
  for (size_t i = 1; i < ids.size(); ++i) diffs.insert(ids[i] - ids[i - 1]);
  EXPECT_GT(diffs.size(), 9'990u);
  for (int bit = 0; bit < 32; ++bit) {
    size_t ones = 0;
    for (uint32_t id : ids) ones += (id >> bit) & 1;
    EXPECT_GT(ones, 4'700u) << bit;
    EXPECT_LT(ones, 5'300u) << bit;
  }
  // Another seed (another node, or the same node after a reboot) gives another sequence.
  Cm other(config_of(1, 4));
  auto first_other = other.connect(Time{0}, p.params(0x1000));
  ASSERT_TRUE(first_other.has_value());
  EXPECT_NE(*first_other, ids[0]);
}
