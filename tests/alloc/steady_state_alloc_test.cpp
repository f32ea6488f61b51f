// No allocation per message in the steady state: after warm-up (pools, maps and queues have grown
// to their working size), whole connection lifecycles run without one call to operator new.
// Its own binary, because it replaces the global operator new to count calls.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <new>
#include <utility>

#include "ibcm/engine/cm.h"
#include "ibcm/wire/mad.h"
#include "ibcm/wire/time.h"

namespace {
std::atomic<uint64_t> g_news{0};
}

// None of these is inlined: GCC would then see malloc() paired with operator delete, or operator
// new with free(), at a call site and warn (-Wmismatched-new-delete).
[[gnu::noinline]] void* operator new(size_t n) {
  ++g_news;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, size_t) noexcept {
  std::free(p);
}

using namespace ibcm;

namespace {

Address addr(uint8_t n) {
  Address a;
  a.gid[10] = a.gid[11] = 0xff;
  a.gid[15] = n;
  return a;
}

// What a cycle's connections go through, besides the happy path. Every bit is exercised in the
// measured cycles as much as in the warm-up, so "0 allocations" covers it.
enum Feature : uint32_t {
  kLoseReq = 1u << 0,    // every other REQ sent is lost: REQ retries
  kLoseRep = 1u << 1,    // every other REP sent is lost: REP retries (and duplicate REQs)
  kMra = 1u << 2,        // the REQ, the REP and the LAP are each answered with MRA first
  kDuplicate = 1u << 3,  // every MAD is delivered twice
  kLap = 1u << 4,        // each connection loads an alternate path (LAP / APR) before DREQ
  kSidr = 1u << 5,       // one SIDR_REQ / SIDR_REP per connection
  kJunk = 1u << 6,  // a MAD to drop (short, bad version, unknown attribute, unknown connection)
                    // before every real one; no logger is set, so a drop is only counted
};

struct Loop {
  Cm a, b;
  Time now{0};
  uint32_t qpn = 1;
  uint32_t features = 0;
  uint64_t established = 0;  // at A
  uint64_t sidr_answered = 0;
  uint64_t lost = 0, junk_sent = 0;
  bool lose_next_req = true, lose_next_rep = true;
  std::array<wire::MadBytes, 3> junk{};
  std::array<uint8_t, 10> short_mad{};
  size_t junk_next = 0;
  wire::PathInfo alt;

  explicit Loop(uint32_t f = 0) : a(cfg(1)), b(cfg(2)), features(f) {
    EXPECT_TRUE(b.listen(7).has_value());
    junk[0] = wire::encode(wire::make_mad(wire::Rtu{0x12345678, 0x9abcdef0, {}}, 1));
    junk[1] = junk[0];
    junk[1][0] = 9;  // base version
    junk[2] = junk[0];
    junk[2][16] = 0x00;  // attribute 0x0099: unknown (a Send: not answered)
    junk[2][17] = 0x99;
    alt.local_lid = 0x11;
    alt.remote_lid = 0x22;
    alt.local_ack_timeout = 5;
  }
  static Config cfg(uint8_t n) {
    Config c;
    c.ca_guid = n;
    c.local = addr(n);
    c.seed = n;
    c.timewait = std::chrono::microseconds(10);
    c.cm_response_timeout = 8;  // the REP retry interval, like the REQ's: about 1.2 ms
    c.sidr_timeout = std::chrono::milliseconds(1);
    return c;
  }
  bool lose(uint16_t attr) {
    if (attr == static_cast<uint16_t>(wire::AttrId::Req) && (features & kLoseReq))
      return std::exchange(lose_next_req, !lose_next_req);
    if (attr == static_cast<uint16_t>(wire::AttrId::Rep) && (features & kLoseRep))
      return std::exchange(lose_next_rep, !lose_next_rep);
    return false;
  }
  void deliver(Cm& from, Cm& to, const wire::MadBytes& mad) {
    if (lose(static_cast<uint16_t>(mad[16] << 8 | mad[17]))) {
      ++lost;
      return;
    }
    const Address& src = from.config().local;
    if (features & kJunk) {
      size_t k = junk_next++ % (junk.size() + 1);
      if (k == junk.size())
        to.handle_mad(now, src, short_mad);
      else
        to.handle_mad(now, src, junk[k]);
      ++junk_sent;
    }
    to.handle_mad(now, src, mad);
    if (features & kDuplicate) to.handle_mad(now, src, mad);
  }
  void react(Cm& cm, const Event& e) {
    const bool mra = features & kMra;
    if (auto* r = std::get_if<ev::ReqReceived>(&e)) {
      if (mra) cm.send_mra(now, r->conn, 6);
      AcceptParams ap;
      ap.qpn = r->req.local_qpn + 0x800000;
      cm.accept(now, r->conn, ap);
    } else if (auto* rep = std::get_if<ev::RepReceived>(&e)) {
      if (mra) cm.send_mra(now, rep->conn, 6);
      cm.send_rtu(now, rep->conn);
    } else if (auto* est = std::get_if<ev::Established>(&e)) {
      if (&cm != &a) return;
      ++established;
      if (features & kLap)
        cm.load_alternate_path(now, est->conn, alt);
      else
        cm.disconnect(now, est->conn);
    } else if (auto* lap = std::get_if<ev::LapReceived>(&e)) {
      if (mra) cm.send_mra(now, lap->conn, 6);
      cm.send_apr(now, lap->conn, wire::ApStatus::Success);
    } else if (auto* apr = std::get_if<ev::AprReceived>(&e)) {
      cm.disconnect(now, apr->conn);
    } else if (auto* d = std::get_if<ev::DreqReceived>(&e)) {
      cm.send_drep(now, d->conn);
    } else if (auto* sr = std::get_if<ev::SidrReqReceived>(&e)) {
      SidrReplyParams rp;
      rp.qpn = 0x42;
      cm.sidr_reply(now, sr->id, rp);
    } else if (std::holds_alternative<ev::SidrRepReceived>(e)) {
      ++sidr_answered;
    }
  }
  // Moves messages and reacts to events until both sides are quiet (bounded).
  void pump() {
    for (int round = 0; round < 100; ++round) {
      bool any = false;
      for (Cm* from : {&a, &b}) {
        Cm* to = from == &a ? &b : &a;
        while (auto t = from->poll_transmit()) {
          any = true;
          deliver(*from, *to, t->mad);
        }
        while (auto e = from->poll_event()) {
          any = true;
          react(*from, *e);
        }
      }
      if (!any) return;
    }
  }
  // Runs every timer (retries, MRA waits, TIMEWAIT, SIDR expiry) at its time until none is left.
  void run_timers() {
    for (int i = 0; i < 100000; ++i) {
      auto ta = a.next_timeout(), tb = b.next_timeout();
      if (!ta && !tb) return;
      Time t = !ta ? *tb : !tb ? *ta : std::min(*ta, *tb);
      if (t > now) now = t;
      a.handle_timeout(now);
      b.handle_timeout(now);
      pump();
    }
  }
  void cycle(int connections) {
    for (int i = 0; i < connections; ++i) {
      ConnectParams p;
      p.service_id = 7;
      p.dest = b.config().local;
      p.qpn = qpn;
      qpn = qpn % 100000 + 1;
      p.packet_life_time = 4;
      p.remote_cm_response_timeout = 8;
      a.connect(now, p);
      if (features & kSidr) {
        SidrParams sp;
        sp.service_id = 7;
        sp.dest = b.config().local;
        a.sidr_request(now, sp);
      }
    }
    pump();
    run_timers();
  }
};

}  // namespace

TEST(SteadyState, ConnectionLifecyclesAllocateNothingAfterWarmUp) {
  Loop loop;
  for (int i = 0; i < 50; ++i) loop.cycle(200);
  ASSERT_EQ(loop.a.connection_count(), 0u);
  uint64_t before = g_news.load();
  uint64_t msgs_before = loop.a.counters().of(CountedMsg::Req).tx;
  for (int i = 0; i < 50; ++i) loop.cycle(200);
  uint64_t allocations = g_news.load() - before;
  EXPECT_EQ(loop.a.counters().of(CountedMsg::Req).tx - msgs_before, 10000u);
  EXPECT_EQ(loop.b.counters().of(CountedMsg::Rtu).rx, 20000u);
  EXPECT_EQ(allocations, 0u) << "allocations in 10,000 steady-state connection lifecycles";
  EXPECT_EQ(loop.a.connection_count() + loop.b.connection_count(), 0u);
  EXPECT_EQ(loop.a.timer_count() + loop.b.timer_count(), 0u);
}

// The same, off the happy path: lost REQs and REPs (retries), MRAs, duplicates, LAP / APR, SIDR
// and MADs that are dropped, each alone and all at once.
struct Scenario {
  const char* name;
  uint32_t features;
};

void PrintTo(const Scenario& s, std::ostream* os) {
  *os << s.name;
}

class SteadyStateWith : public ::testing::TestWithParam<Scenario> {};

TEST_P(SteadyStateWith, LifecyclesAllocateNothingAfterWarmUp) {
  const uint32_t f = GetParam().features;
  constexpr int kCycles = 30, kConns = 100;
  constexpr uint64_t kTotal = kCycles * kConns;
  const uint64_t start = g_news.load();
  Loop loop(f);
  for (int i = 0; i < kCycles; ++i) loop.cycle(kConns);
  ASSERT_GT(g_news.load(), start);  // the warm-up grew the pools: the count sees the engine's
  ASSERT_EQ(loop.established, kTotal);
  const Counters a0 = loop.a.counters(), b0 = loop.b.counters();
  const uint64_t lost0 = loop.lost, junk0 = loop.junk_sent, sidr0 = loop.sidr_answered;

  const uint64_t before = g_news.load();
  for (int i = 0; i < kCycles; ++i) loop.cycle(kConns);
  const uint64_t allocations = g_news.load() - before;

  EXPECT_EQ(allocations, 0u) << "allocations in " << kTotal << " steady-state lifecycles";
  // Every connection of the measured cycles went all the way, and nothing is left over.
  EXPECT_EQ(loop.established, 2 * kTotal);
  EXPECT_EQ(loop.a.connection_count() + loop.b.connection_count(), 0u);
  EXPECT_EQ(loop.a.timer_count() + loop.b.timer_count(), 0u);
  EXPECT_EQ(loop.a.sidr_count() + loop.b.sidr_count(), 0u);
  // And the measured cycles did go off the happy path, as much as the warm-up did.
  const Counters &a1 = loop.a.counters(), &b1 = loop.b.counters();
  auto delta = [](const Counters& x, const Counters& y, CountedMsg m, auto field) {
    return y.of(m).*field - x.of(m).*field;
  };
  using M = MsgCounters;
  if (f & kLoseReq) {
    EXPECT_GT(delta(a0, a1, CountedMsg::Req, &M::tx_retries), kTotal / 2);
  }
  if (f & kLoseRep) {
    EXPECT_GT(delta(b0, b1, CountedMsg::Rep, &M::tx_retries), kTotal / 2);
  }
  if (f & (kLoseReq | kLoseRep)) {
    EXPECT_GE(loop.lost - lost0, kTotal / 2);  // at least every other first send
  }
  if (f & kMra) {
    EXPECT_GE(delta(a0, a1, CountedMsg::Mra, &M::tx), kTotal);  // for the REPs
    EXPECT_GE(delta(b0, b1, CountedMsg::Mra, &M::tx), kTotal);  // for the REQs (and LAPs)
  }
  if (f & kDuplicate) {
    EXPECT_GE(delta(b0, b1, CountedMsg::Req, &M::rx_duplicates), kTotal);
    EXPECT_GE(delta(b0, b1, CountedMsg::Rtu, &M::rx_duplicates), kTotal);
    EXPECT_GE(delta(a0, a1, CountedMsg::Drep, &M::rx_duplicates), kTotal);
  }
  if (f & kLap) {
    EXPECT_GE(delta(b0, b1, CountedMsg::Lap, &M::rx), kTotal);
    EXPECT_GE(delta(a0, a1, CountedMsg::Apr, &M::rx), kTotal);
  }
  if (f & kSidr) {
    EXPECT_EQ(loop.sidr_answered - sidr0, kTotal);
  }
  if (f & kJunk) {
    EXPECT_GT(loop.junk_sent - junk0, kTotal);
    EXPECT_GE(a1.total_drops() + b1.total_drops() - a0.total_drops() - b0.total_drops(),
              loop.junk_sent - junk0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Scenarios, SteadyStateWith,
    ::testing::Values(Scenario{"LostReqs", kLoseReq}, Scenario{"LostReps", kLoseRep},
                      Scenario{"Mra", kMra}, Scenario{"Duplicates", kDuplicate},
                      Scenario{"LapApr", kLap}, Scenario{"LapAprWithMra", kLap | kMra},
                      Scenario{"Sidr", kSidr}, Scenario{"DroppedMads", kJunk},
                      Scenario{"Everything",
                               kLoseReq | kLoseRep | kMra | kDuplicate | kLap | kSidr | kJunk}),
    [](const auto& info) { return std::string(info.param.name); });
