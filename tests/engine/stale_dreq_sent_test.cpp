// A stale REQ for a connection whose DREQ is already out: REJ 10 and no second DREQ (the one out
// keeps being retried), and the consumer hears stale_connection as in every other state, once.
#include <gtest/gtest.h>

#include "engine/pair.h"
#include "ibcm/wire/time.h"

using namespace ibcm;
using namespace ibcm::test;
using wire::cm_time;

TEST(StaleDreqSent, ConsumerGetsStaleConnectionOnceAndTheDreqGoesOn) {
  Pair p;
  auto [ca, cb] = p.connect(0x100, 0x200);
  (void)ca;
  ASSERT_TRUE(p.b.disconnect(p.now, cb).has_value());
  p.drop_one();  // B's DREQ is lost; A reboots
  p.a = Cm(config_of(1, 99));
  ASSERT_TRUE(p.a.connect(p.now, p.params(0x100)).has_value());
  p.deliver_one();                    // the REQ from the reused QPN
  ASSERT_EQ(p.in_flight.size(), 1u);  // REJ 10 only
  EXPECT_EQ(std::get<wire::Rej>(p.in_flight.front().mad().message).reason,
            wire::RejReason::StaleConnection);
  EXPECT_EQ(p.b.state(cb), State::DreqSent);
  EXPECT_EQ(p.b.counters().dreq_sent_stale, 0u);
  auto stale = p.events_of<ev::StaleConnection>(p.b_events);
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0].conn, cb);
  EXPECT_EQ(stale[0].remote_qpn, 0x100u);
  p.drop_one();

  // A reboots again and retries: another REJ 10, no second event.
  p.a = Cm(config_of(1, 100));
  ASSERT_TRUE(p.a.connect(p.now, p.params(0x100)).has_value());
  p.deliver_one();
  ASSERT_EQ(p.in_flight.size(), 1u);
  EXPECT_EQ(p.b.counters().rej_sent_stale, 2u);
  EXPECT_EQ(p.events_of<ev::StaleConnection>(p.b_events).size(), 1u);
  p.drop_one();

  // B's DREQ retry reaches the rebooted A, which answers DREP: B enters TIMEWAIT.
  p.advance_to(*p.b.next_timeout());
  p.deliver_all();
  EXPECT_EQ(p.b.state(cb), State::TimeWait);
  EXPECT_EQ(p.events_of<ev::StaleConnection>(p.b_events).size(), 1u);
}
