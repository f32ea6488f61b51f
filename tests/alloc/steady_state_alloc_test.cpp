// No allocation per message in the steady state: after warm-up (pools, maps and queues have grown
// to their working size), whole connection lifecycles run without one call to operator new.
// Its own binary, because it replaces the global operator new to count calls.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "ibcm/engine/cm.h"
#include "ibcm/wire/time.h"

namespace {
std::atomic<uint64_t> g_news{0};
}

void* operator new(size_t n) {
  ++g_news;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
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

struct Loop {
  Cm a, b;
  Time now{0};
  uint32_t qpn = 1;
  Loop() : a(cfg(1)), b(cfg(2)) { EXPECT_TRUE(b.listen(7).has_value()); }
  static Config cfg(uint8_t n) {
    Config c;
    c.ca_guid = n;
    c.local = addr(n);
    c.seed = n;
    c.timewait = std::chrono::microseconds(10);
    return c;
  }
  // Moves messages and reacts to events until both sides are quiet (bounded).
  void pump() {
    for (int round = 0; round < 100; ++round) {
      bool any = false;
      for (Cm* from : {&a, &b}) {
        Cm* to = from == &a ? &b : &a;
        while (auto t = from->poll_transmit()) {
          any = true;
          to->handle_mad(now, from->config().local, t->mad);
        }
        while (auto e = from->poll_event()) {
          any = true;
          if (auto* r = std::get_if<ev::ReqReceived>(&*e)) {
            AcceptParams ap;
            ap.qpn = r->req.local_qpn + 0x800000;
            from->accept(now, r->conn, ap);
          } else if (auto* rep = std::get_if<ev::RepReceived>(&*e)) {
            from->send_rtu(now, rep->conn);
          } else if (auto* est = std::get_if<ev::Established>(&*e)) {
            if (from == &a) from->disconnect(now, est->conn);
          } else if (auto* d = std::get_if<ev::DreqReceived>(&*e)) {
            from->send_drep(now, d->conn);
          }
        }
      }
      if (!any) return;
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
    }
    pump();
    now += std::chrono::milliseconds(1);  // past TIMEWAIT
    a.handle_timeout(now);
    b.handle_timeout(now);
    pump();
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
