#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "engine/pair.h"

using namespace ibcm;
using namespace ibcm::test;

TEST(Sidr, RequestReplyResolvesServiceToUdQp) {
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1111).has_value());
  SidrParams sp;
  sp.service_id = 0x1111;
  sp.dest = p.b.config().local;
  auto id = p.a.sidr_request(p.now, sp);
  ASSERT_TRUE(id.has_value());
  p.deliver_one();
  auto req = p.last<ev::SidrReqReceived>(p.b_events);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->req.service_id, 0x1111u);
  SidrReplyParams rp;
  rp.qpn = 0x4321;
  rp.qkey = 0x11223344;
  ASSERT_TRUE(p.b.sidr_reply(p.now, req->id, rp).has_value());
  p.deliver_one();
  auto rep = p.last<ev::SidrRepReceived>(p.a_events);
  ASSERT_TRUE(rep.has_value());
  EXPECT_EQ(rep->id, *id);
  EXPECT_EQ(rep->rep.qpn, 0x4321u);
  EXPECT_EQ(rep->rep.qkey, 0x11223344u);
  EXPECT_EQ(rep->rep.status, wire::SidrStatus::Success);
  EXPECT_EQ(p.a.sidr_count(), 0u);
  EXPECT_EQ(p.a.timer_count(), 0u);
  // The answered request is kept a while for duplicates, then forgotten.
  EXPECT_EQ(p.b.sidr_count(), 1u);
  p.run_timers_until(p.now + std::chrono::seconds(10));
  EXPECT_EQ(p.b.sidr_count(), 0u);
  EXPECT_EQ(p.b.timer_count(), 0u);
}

TEST(Sidr, DuplicatesAreDetectedByRequestIdAndGid) {
  Pair p;
  ASSERT_TRUE(p.b.listen(0x1111).has_value());
  SidrParams sp;
  sp.service_id = 0x1111;
  sp.dest = p.b.config().local;
  ASSERT_TRUE(p.a.sidr_request(p.now, sp).has_value());
  Wire req = p.deliver_one();
  // The same request again from the same GID: a duplicate, no second event.
  p.b.handle_mad(p.now, p.a.config().local, req.bytes);
  EXPECT_EQ(p.b.counters().of(CountedMsg::SidrReq).rx_duplicates, 1u);
  p.collect();
  EXPECT_EQ(p.events_of<ev::SidrReqReceived>(p.b_events).size(), 1u);
  // The same RequestID from another GID is a different request.
  Address other = addr_of(9);
  p.b.handle_mad(p.now, other, req.bytes);
  p.collect();
  EXPECT_EQ(p.events_of<ev::SidrReqReceived>(p.b_events).size(), 2u);
  // After the reply, a duplicate gets the same reply again.
  auto first = p.events_of<ev::SidrReqReceived>(p.b_events)[0];
  SidrReplyParams rp;
  rp.qpn = 7;
  ASSERT_TRUE(p.b.sidr_reply(p.now, first.id, rp).has_value());
  p.in_flight.clear();
  p.collect();
  p.in_flight.clear();
  p.b.handle_mad(p.now, p.a.config().local, req.bytes);
  p.collect();
  ASSERT_EQ(p.in_flight.size(), 1u);
  EXPECT_EQ(std::get<wire::SidrRep>(p.in_flight.front().mad().message).qpn, 7u);
}

TEST(Sidr, UnknownServiceAnswersStatus1) {
  Pair p;
  SidrParams sp;
  sp.service_id = 0x2222;
  sp.dest = p.b.config().local;
  ASSERT_TRUE(p.a.sidr_request(p.now, sp).has_value());
  p.deliver_all();
  auto rep = p.last<ev::SidrRepReceived>(p.a_events);
  ASSERT_TRUE(rep.has_value());
  EXPECT_EQ(rep->rep.status, wire::SidrStatus::ServiceIdNotSupported);
}

TEST(Sidr, UnansweredRequestIsRetriedThenTimesOut) {
  Pair p;
  SidrParams sp;
  sp.service_id = 0x2222;
  sp.dest = addr_of(9);  // nobody there
  auto id = p.a.sidr_request(p.now, sp);
  ASSERT_TRUE(id.has_value());
  p.run_timers_until(p.now + std::chrono::seconds(10));
  auto to = p.last<ev::SidrTimeout>(p.a_events);
  ASSERT_TRUE(to.has_value());
  EXPECT_EQ(to->id, *id);
  EXPECT_EQ(p.a.counters().of(CountedMsg::SidrReq).tx, 1u + p.a.config().sidr_retries);
  EXPECT_EQ(p.a.sidr_count(), 0u);
}

namespace {
// When each SIDR_REQ of one unanswered request goes out, and when sidr_timeout comes, as offsets
// from the request.
struct SidrSchedule {
  std::vector<Time> sends;
  std::optional<Time> timed_out;
};
SidrSchedule unanswered(const SidrParams& sp, std::optional<uint8_t> config_retries = {}) {
  Config c = config_of(1);
  if (config_retries) c.sidr_retries = *config_retries;
  Cm cm(c);
  SidrSchedule s;
  auto id = cm.sidr_request(Time{0}, sp);
  EXPECT_TRUE(id.has_value());
  for (int i = 0; i < 100; ++i) {
    Time now = i == 0 ? Time{0} : cm.next_timeout().value_or(Time::max());
    if (now == Time::max()) break;
    cm.handle_timeout(now);
    while (cm.poll_transmit()) s.sends.push_back(now);
    while (auto e = cm.poll_event())
      if (auto* t = std::get_if<ev::SidrTimeout>(&*e); t && t->id == *id) s.timed_out = now;
  }
  return s;
}
}  // namespace

TEST(Sidr, RetriesUseTheConfigsIntervalByDefault) {
  SidrParams sp;
  sp.service_id = 0x2222;
  sp.dest = addr_of(9);
  auto s = unanswered(sp);
  using std::chrono::milliseconds;
  EXPECT_EQ(s.sends, (std::vector<Time>{milliseconds(0), milliseconds(500), milliseconds(1000),
                                        milliseconds(1500)}));
  EXPECT_EQ(s.timed_out, Time{milliseconds(2000)});
}

TEST(Sidr, EachRequestCanSetItsOwnTimeoutAndRetries) {
  SidrParams sp;
  sp.service_id = 0x2222;
  sp.dest = addr_of(9);
  sp.timeout = std::chrono::milliseconds(120);
  sp.max_retries = 2;
  auto s = unanswered(sp, /*config_retries=*/7);
  using std::chrono::milliseconds;
  EXPECT_EQ(s.sends, (std::vector<Time>{milliseconds(0), milliseconds(120), milliseconds(240)}));
  EXPECT_EQ(s.timed_out, Time{milliseconds(360)});

  sp.max_retries = 0;  // one try only
  s = unanswered(sp);
  EXPECT_EQ(s.sends, (std::vector<Time>{milliseconds(0)}));
  EXPECT_EQ(s.timed_out, Time{milliseconds(120)});
}

TEST(Sidr, ANonPositiveTimeoutIsRefused) {
  Cm cm(config_of(1));
  SidrParams sp;
  sp.dest = addr_of(9);
  sp.timeout = Time{0};
  EXPECT_EQ(cm.sidr_request(Time{0}, sp).error(), Error::InvalidArgument);
  EXPECT_EQ(cm.sidr_count(), 0u);
}
