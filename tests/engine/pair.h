// Two CMs wired back to back for engine tests: messages move only when the test says so, so a
// test can drop, duplicate or inspect any of them, and time moves only when the test says so. The
// nodes and the connection's parameters are the fixture's (fixture/nodes.h), as the benchmarks'
// and the fuzz targets' are.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <optional>
#include <vector>

#include "fixture/nodes.h"
#include "ibcm/engine/cm.h"
#include "ibcm/wire/mad.h"

namespace ibcm::test {

using fixture::addr_of;
using fixture::config_of;

struct Wire {
  Address from;
  Address to;
  wire::MadBytes bytes;
  wire::Mad mad() const { return *wire::decode(bytes); }
  uint16_t attr() const { return static_cast<uint16_t>(bytes[16] << 8 | bytes[17]); }
};

class Pair {
 public:
  explicit Pair(uint64_t seed = 1) : a(config_of(1, seed)), b(config_of(2, seed)) {}
  Pair(const Config& ca, const Config& cb) : a(ca), b(cb) {}

  Cm a;
  Cm b;
  Time now{0};
  std::deque<Wire> in_flight;  // sent, not yet delivered, in order
  std::vector<Event> a_events, b_events;

  Cm& cm_at(const Address& to) { return to.gid == a.config().local.gid ? a : b; }

  // Moves everything both sides have to send into in_flight; events into the event logs.
  void collect() {
    for (Cm* cm : {&a, &b}) {
      while (auto t = cm->poll_transmit())
        in_flight.push_back(Wire{cm->config().local, t->to, t->mad});
      auto& log = cm == &a ? a_events : b_events;
      while (auto e = cm->poll_event()) log.push_back(*e);
    }
  }

  // Delivers the oldest message in flight. Returns it.
  Wire deliver_one() {
    collect();
    EXPECT_FALSE(in_flight.empty());
    Wire w = in_flight.front();
    in_flight.pop_front();
    cm_at(w.to).handle_mad(now, w.from, w.bytes);
    collect();
    return w;
  }
  // Drops the oldest message in flight. Returns it.
  Wire drop_one() {
    collect();
    EXPECT_FALSE(in_flight.empty());
    Wire w = in_flight.front();
    in_flight.pop_front();
    return w;
  }
  // Delivers until nothing is in flight (bounded).
  int deliver_all(int limit = 1000) {
    int n = 0;
    collect();
    while (!in_flight.empty() && n < limit) {
      deliver_one();
      ++n;
    }
    return n;
  }
  // Advances time to t, running both sides' timers.
  void advance_to(Time t) {
    now = t;
    a.handle_timeout(now);
    b.handle_timeout(now);
    collect();
  }
  void advance_by(Time d) { advance_to(now + d); }
  // The earliest timer of either side.
  std::optional<Time> next_timeout() const {
    auto ta = a.next_timeout(), tb = b.next_timeout();
    if (!ta) return tb;
    if (!tb) return ta;
    return std::min(*ta, *tb);
  }
  // Runs timers at their exact times (no messages delivered) until `until`.
  void run_timers_until(Time until, int limit = 10000) {
    for (int i = 0; i < limit; ++i) {
      auto t = next_timeout();
      if (!t || *t > until) break;
      advance_to(*t);
    }
    advance_to(until);
  }

  template <class E>
  std::vector<E> events_of(const std::vector<Event>& log) const {
    std::vector<E> out;
    for (const auto& e : log)
      if (auto* x = std::get_if<E>(&e)) out.push_back(*x);
    return out;
  }
  template <class E>
  std::optional<E> last(const std::vector<Event>& log) const {
    for (auto it = log.rbegin(); it != log.rend(); ++it)
      if (auto* x = std::get_if<E>(&*it)) return *x;
    return std::nullopt;
  }

  // B listens on 0x1234 and A's REQ (QPN 0x100) for it is the one MAD in flight, for the test to
  // change (change_req) before it is delivered: A's comm ID.
  ConnId req_in_flight() {
    EXPECT_TRUE(b.listen(0x1234).has_value());
    listening_ = true;
    auto ca = a.connect(now, params(0x100));
    EXPECT_TRUE(ca.has_value());
    collect();
    EXPECT_EQ(in_flight.size(), 1u);
    return ca ? *ca : 0;
  }
  // The REQ in flight, changed by `f` as a peer that sends such a REQ would.
  template <class F>
  void change_req(F f) {
    auto req = std::get<wire::Req>(in_flight.front().mad().message);
    f(req);
    in_flight.front().bytes = wire::encode(wire::make_mad(req, 7));
  }
  // Delivers the next MAD, which must be a REJ for A's `ca` (its RemoteCommID): the REJ.
  wire::Rej deliver_rej(ConnId ca) {
    const wire::Mad m = deliver_one().mad();  // a copy: the REJ is read out of it
    const auto* r = std::get_if<wire::Rej>(&m.message);
    EXPECT_TRUE(r != nullptr) << "not a REJ";
    if (!r) return {};
    EXPECT_EQ(r->remote_comm_id, ca);
    return *r;
  }

  // A full handshake: A connects with QPN qa, B accepts with QPN qb. Returns {A's id, B's id}.
  std::pair<ConnId, ConnId> connect(uint32_t qa = 0x100, uint32_t qb = 0x200,
                                    uint64_t sid = 0x1234) {
    if (!listening_) {
      EXPECT_TRUE(b.listen(sid).has_value());
      listening_ = true;
    }
    auto ca = a.connect(now, params(qa, sid));
    EXPECT_TRUE(ca.has_value());
    deliver_one();  // REQ
    auto req = last<ev::ReqReceived>(b_events);
    EXPECT_TRUE(req.has_value());
    AcceptParams ap;
    ap.qpn = qb;
    ap.psn = 0x777;
    EXPECT_TRUE(b.accept(now, req->conn, ap).has_value());
    deliver_one();  // REP
    EXPECT_TRUE(a.send_rtu(now, *ca).has_value());
    deliver_one();  // RTU
    return {*ca, req->conn};
  }

  ConnectParams params(uint32_t qpn, uint64_t sid = 0x1234) const {
    return fixture::connect_params(a.config().local, b.config().local, qpn, sid);
  }

 private:
  bool listening_ = false;
};

}  // namespace ibcm::test
