// One connection brought into any state of the machine, for tests that exercise a state: a fresh
// Pair, A connects to B, and the handshake (or the release) goes as far as the state needs. The
// subject is the side that is in that state; everything still in flight is thrown away.
#pragma once

#include <gtest/gtest.h>

#include "engine/pair.h"

namespace ibcm::test {

struct Subject {
  Pair p;
  bool is_a = true;  // the subject is A (else B)
  ConnId self = 0, peer = 0;
  uint32_t self_qpn = 0x100, peer_qpn = 0x200;
  Cm& cm() { return is_a ? p.a : p.b; }
  Cm& peer_cm() { return is_a ? p.b : p.a; }
  std::vector<Event>& events() { return is_a ? p.a_events : p.b_events; }
  Address self_addr() { return cm().config().local; }
  Address peer_addr() { return peer_cm().config().local; }
  uint64_t peer_guid() { return peer_cm().config().ca_guid; }
};

// The side whose connection is in state s once reach() has run: A for the states of the active
// side (and DREQ_SENT, TIMEWAIT: A disconnects), B for the passive side's (and DREQ_RCVD).
inline bool subject_is_a(State s) {
  return s == State::ReqSent || s == State::MraReqRcvd || s == State::RepRcvd ||
         s == State::MraRepSent || s == State::Established || s == State::DreqSent ||
         s == State::TimeWait;
}

// Brings x's fresh pair to the point where the subject connection is in state s (A's QPN 0x100,
// B's 0x200, service 0x1234 that B listens on; MRAs with service timeout 20).
inline void reach(Subject& x, State s) {
  Pair& p = x.p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto ca = p.a.connect(p.now, p.params(0x100));
  ASSERT_TRUE(ca.has_value());
  p.deliver_one();
  ConnId cb = p.last<ev::ReqReceived>(p.b_events)->conn;
  x.is_a = subject_is_a(s);
  x.self = x.is_a ? *ca : cb;
  x.peer = x.is_a ? cb : *ca;
  if (!x.is_a) std::swap(x.self_qpn, x.peer_qpn);
  AcceptParams ap;
  ap.qpn = 0x200;
  switch (s) {
    case State::ReqSent:
    case State::ReqRcvd:
      break;
    case State::MraReqSent:
      ASSERT_TRUE(p.b.send_mra(p.now, cb, 20).has_value());
      p.drop_one();
      break;
    case State::MraReqRcvd:
      ASSERT_TRUE(p.b.send_mra(p.now, cb, 20).has_value());
      p.deliver_one();
      break;
    case State::RepSent:
      ASSERT_TRUE(p.b.accept(p.now, cb, ap).has_value());
      p.drop_one();
      break;
    case State::RepRcvd:
    case State::MraRepSent:
    case State::MraRepRcvd:
      ASSERT_TRUE(p.b.accept(p.now, cb, ap).has_value());
      p.deliver_one();
      if (s != State::RepRcvd) {
        ASSERT_TRUE(p.a.send_mra(p.now, *ca, 20).has_value());
        if (s == State::MraRepRcvd)
          p.deliver_one();
        else
          p.drop_one();
      }
      break;
    case State::Established:
    case State::DreqSent:
    case State::DreqRcvd:
    case State::TimeWait:
      ASSERT_TRUE(p.b.accept(p.now, cb, ap).has_value());
      p.deliver_one();
      ASSERT_TRUE(p.a.send_rtu(p.now, *ca).has_value());
      p.deliver_one();
      if (s == State::Established) break;
      ASSERT_TRUE(p.a.disconnect(p.now, *ca).has_value());
      if (s == State::DreqSent) {
        p.drop_one();
        break;
      }
      p.deliver_one();
      if (s == State::DreqRcvd) break;
      ASSERT_TRUE(p.b.send_drep(p.now, cb).has_value());
      p.deliver_one();
      break;
    default:
      FAIL();
  }
  p.collect();
  p.in_flight.clear();
  ASSERT_EQ(x.cm().state(x.self), s);
}

// An alternate path for the LAP tests (LIDs only: any path will do).
inline wire::PathInfo lap_path() {
  wire::PathInfo p;
  p.local_lid = 0x11;
  p.remote_lid = 0x22;
  p.local_ack_timeout = 17;
  return p;
}

// A's ESTABLISHED connection (the subject) brought into LAP sub-state l.
inline void reach_lap(Subject& x, LapState l) {
  reach(x, State::Established);
  if (::testing::Test::HasFatalFailure()) return;
  Pair& p = x.p;
  Cm& self = x.cm();
  Cm& peer = x.peer_cm();
  switch (l) {
    case LapState::Idle:
      break;
    case LapState::LapSent:
      ASSERT_TRUE(self.load_alternate_path(p.now, x.self, lap_path()).has_value());
      p.drop_one();
      break;
    case LapState::LapRcvd:
    case LapState::MraLapSent:
      ASSERT_TRUE(peer.load_alternate_path(p.now, x.peer, lap_path()).has_value());
      p.deliver_one();
      if (l == LapState::MraLapSent) {
        ASSERT_TRUE(self.send_mra(p.now, x.self, 20).has_value());
        p.drop_one();
      }
      break;
    case LapState::MraLapRcvd:
      ASSERT_TRUE(self.load_alternate_path(p.now, x.self, lap_path()).has_value());
      p.deliver_one();
      ASSERT_TRUE(peer.send_mra(p.now, x.peer, 20).has_value());
      p.deliver_one();
      break;
  }
  p.collect();
  p.in_flight.clear();
  ASSERT_EQ(self.lap_state(x.self), l);
}

}  // namespace ibcm::test
