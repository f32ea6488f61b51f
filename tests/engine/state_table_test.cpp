// Every cell of the (state x input) table, exercised: a connection is brought into each state,
// given each input (a well-formed message from its peer, or its timer), and the outcome is checked
// against what the cell's action promises. Cells that no input can reach are listed and checked
// to be Drop.
#include "engine/state_table.h"

#include <gtest/gtest.h>

#include "engine/reach.h"
#include "ibcm/wire/time.h"

using namespace ibcm;
using namespace ibcm::test;
using engine::Act;
using engine::Input;
using engine::LapAct;
using engine::LapInput;
using wire::cm_time;

namespace {

wire::MsgRef ref_for(State s) {
  switch (s) {
    case State::ReqSent:
    case State::MraReqRcvd:
    case State::ReqRcvd:
    case State::MraReqSent:
      return wire::MsgRef::Req;
    case State::RepSent:
    case State::MraRepRcvd:
    case State::RepRcvd:
    case State::MraRepSent:
      return wire::MsgRef::Rep;
    default:
      return wire::MsgRef::Other;
  }
}

wire::Message message_for(Subject& x, Input in, State s) {
  uint32_t l = x.peer, r = x.self;
  switch (in) {
    case Input::Req: {
      wire::Req m;
      m.local_comm_id = l;
      m.local_ca_guid = x.peer_guid();
      m.local_qpn = x.peer_qpn;
      m.service_id = 0x1234;
      return m;
    }
    case Input::Mra:
      return wire::Mra{l, r, ref_for(s), 20, {}};
    case Input::Rej: {
      wire::Rej m;
      m.local_comm_id = l;
      m.remote_comm_id = r;
      m.message_rejected = ref_for(s);
      m.reason = wire::RejReason::ConsumerDefined;
      return m;
    }
    case Input::Rep: {
      wire::Rep m;
      m.local_comm_id = l;
      m.remote_comm_id = r;
      m.local_qpn = x.peer_qpn;
      m.local_ca_guid = x.peer_guid();
      return m;
    }
    case Input::Rtu:
      return wire::Rtu{l, r, {}};
    case Input::Dreq:
      return wire::Dreq{l, r, x.self_qpn, {}};
    case Input::Drep:
      return wire::Drep{l, r, {}};
    case Input::Lap: {
      wire::Lap m;
      m.local_comm_id = l;
      m.remote_comm_id = r;
      m.remote_qpn = x.self_qpn;
      return m;
    }
    case Input::Apr: {
      wire::Apr m;
      m.local_comm_id = l;
      m.remote_comm_id = r;
      return m;
    }
    case Input::Stale: {
      // A new REQ (a comm ID the subject does not know) from the peer's QP: the peer has
      // forgotten the connection and reuses its QPN.
      wire::Req m;
      m.local_comm_id = 0x5151;
      m.local_ca_guid = x.peer_guid();
      m.local_qpn = x.peer_qpn;
      m.service_id = 0x1234;
      m.primary.remote_gid = x.self_addr().gid;
      m.path_mtu = wire::Mtu::Mtu1024;
      return m;
    }
    default:
      return wire::Rtu{};
  }
}

constexpr State kLiveStates[] = {State::ReqSent,    State::ReqRcvd,    State::MraReqSent,
                                 State::MraReqRcvd, State::RepSent,    State::RepRcvd,
                                 State::MraRepSent, State::MraRepRcvd, State::Established,
                                 State::DreqSent,   State::DreqRcvd,   State::TimeWait};
constexpr Input kInputs[] = {Input::Req, Input::Mra,   Input::Rej,    Input::Rep,
                             Input::Rtu, Input::Dreq,  Input::Drep,   Input::Lap,
                             Input::Apr, Input::Stale, Input::Timeout};

std::string name(Input i) {
  static const char* kNames[] = {"REQ",  "MRA", "REJ", "REP",   "RTU",    "DREQ",
                                 "DREP", "LAP", "APR", "Stale", "Timeout"};
  return kNames[static_cast<int>(i)];
}

struct Cell {
  State state;
  Input input;
};

class StateTableCell : public ::testing::TestWithParam<Cell> {};

TEST_P(StateTableCell, DoesWhatTheTableSays) {
  const auto [s, in] = GetParam();
  Subject x;
  reach(x, s);
  if (HasFatalFailure()) return;
  Cm& cm = x.cm();
  const Act a = engine::act(s, in);
  const Counters before = cm.counters();
  Pair& p = x.p;
  const size_t events_before = x.events().size();

  // Before the REP, the subject does not know the peer's comm ID: a REQ from the peer is then a
  // new REQ (routes.h: on_new_req) and a DREQ naming us is one for an unknown connection (answered
  // with DREP). Neither reaches the table, whose cells there say Drop.
  bool remote_unknown = s == State::ReqSent || s == State::MraReqRcvd;
  // A stale claim needs a connection that holds the peer's QPN: one that knows it (not before
  // the REP) and has not released it (TIMEWAIT). The claim then reaches no connection.
  const bool no_claim = in == Input::Stale && (remote_unknown || s == State::TimeWait);
  if ((remote_unknown && (in == Input::Req || in == Input::Dreq)) || no_claim) {
    EXPECT_EQ(a, Act::Drop);
    cm.handle_mad(p.now, x.peer_addr(), wire::encode(wire::make_mad(message_for(x, in, s), 42)));
    EXPECT_EQ(cm.state(x.self), s);
    return;
  }
  if (in == Input::Timeout) {
    auto t = cm.next_timeout();
    if (!t) {
      // No timer runs in this state, so the cell cannot be reached: it must be Drop or a
      // LAP-machine cell (whose timer runs only while a LAP is outstanding).
      EXPECT_TRUE(a == Act::Drop || a == Act::Lap) << "unreachable cell is not Drop";
      return;
    }
    (x.is_a ? p.a : p.b).handle_timeout(*t);
  } else {
    wire::Mad mad = wire::make_mad(message_for(x, in, s), 42);
    cm.handle_mad(p.now, x.peer_addr(), wire::encode(mad));
  }
  std::vector<Wire> sent;
  while (auto t = cm.poll_transmit()) sent.push_back(Wire{cm.config().local, t->to, t->mad});
  auto sent_one = [&](auto type) {
    using T = decltype(type);
    return sent.size() == 1 && std::holds_alternative<T>(sent[0].mad().message);
  };
  const auto after_state = cm.state(x.self);
  const Counters& after = cm.counters();
  p.collect();
  const std::vector<Event> events(x.events().begin() + static_cast<long>(events_before),
                                  x.events().end());
  auto dup_count = [&](const Counters& c) {
    uint64_t n = 0;
    for (auto& m : c.msg) n += m.rx_duplicates;
    return n;
  };

  switch (a) {
    case Act::Drop:
      EXPECT_EQ(after_state, s);
      EXPECT_GT(after.total_drops(), before.total_drops());
      EXPECT_TRUE(sent.empty());
      break;
    case Act::DupDrop:
      EXPECT_EQ(after_state, s);
      EXPECT_EQ(dup_count(after), dup_count(before) + 1);
      EXPECT_TRUE(sent.empty());
      break;
    case Act::ResendMra:
      EXPECT_TRUE(sent_one(wire::Mra{}));
      EXPECT_EQ(after_state, s);
      break;
    case Act::ResendRtu:
      EXPECT_TRUE(sent_one(wire::Rtu{}));
      EXPECT_EQ(after_state, s);
      break;
    case Act::ResendDrep:
      EXPECT_TRUE(sent_one(wire::Drep{}));
      EXPECT_EQ(after_state, s);
      break;
    case Act::RejStale:
      ASSERT_TRUE(sent_one(wire::Rej{}));
      EXPECT_EQ(std::get<wire::Rej>(sent[0].mad().message).reason,
                wire::RejReason::StaleConnection);
      break;
    case Act::MraWait: {
      EXPECT_EQ(after_state, s == State::ReqSent ? State::MraReqRcvd : State::MraRepRcvd);
      EXPECT_TRUE(sent.empty());
      // Retries stop for the MRA's ServiceTimeout (20) + the packet lifetime (18: the active
      // side's own, the passive side's from the REQ's local ACK timeout 19 - 1).
      EXPECT_EQ(cm.next_timeout(), p.now + cm_time(20) + cm_time(18));
      auto mra = p.last<ev::MraReceived>(events);
      ASSERT_TRUE(mra.has_value());
      EXPECT_EQ(mra->conn, x.self);
      break;
    }
    case Act::RejConnect: {
      EXPECT_FALSE(after_state.has_value());
      EXPECT_TRUE(sent.empty());
      EXPECT_EQ(cm.next_timeout(), std::nullopt);
      auto rej = p.last<ev::RejReceived>(events);
      ASSERT_TRUE(rej.has_value());
      EXPECT_EQ(rej->conn, x.self);
      EXPECT_EQ(rej->prior, s);
      // Reason 10 (the peer still holds a connection for our QP) ends the attempt in TIMEWAIT
      // instead: the QPN stays out of use for the path's local ACK timeout (19).
      Subject y;
      reach(y, s);
      if (HasFatalFailure()) return;
      wire::Message stale = message_for(y, in, s);
      std::get<wire::Rej>(stale).reason = wire::RejReason::StaleConnection;
      y.cm().handle_mad(y.p.now, y.peer_addr(), wire::encode(wire::make_mad(stale, 43)));
      EXPECT_EQ(y.cm().state(y.self), State::TimeWait);
      EXPECT_EQ(y.cm().next_timeout(), y.p.now + cm_time(19));
      EXPECT_FALSE(y.cm().poll_transmit().has_value());
      y.p.collect();
      auto rej10 = y.p.last<ev::RejReceived>(y.events());
      ASSERT_TRUE(rej10.has_value());
      EXPECT_EQ(rej10->rej.reason, wire::RejReason::StaleConnection);
      EXPECT_EQ(rej10->prior, s);
      break;
    }
    case Act::RepAccept:
      EXPECT_EQ(after_state, State::RepRcvd);
      break;
    case Act::RtuEstablish:
      EXPECT_EQ(after_state, State::Established);
      break;
    case Act::DreqAccept:
    case Act::DreqCollide:
      EXPECT_EQ(after_state, State::DreqRcvd);
      break;
    case Act::DrepTimeWait:
      EXPECT_EQ(after_state, State::TimeWait);
      break;
    case Act::RetryReq:
      EXPECT_TRUE(sent_one(wire::Req{}));
      EXPECT_EQ(after_state, State::ReqSent);
      break;
    case Act::RetryRep:
      EXPECT_TRUE(sent_one(wire::Rep{}));
      EXPECT_EQ(after_state, State::RepSent);
      break;
    case Act::RetryDreq:
      EXPECT_TRUE(sent_one(wire::Dreq{}));
      EXPECT_EQ(after_state, State::DreqSent);
      break;
    case Act::ExitTimeWait:
      EXPECT_FALSE(after_state.has_value());
      break;
    case Act::StaleDreq:
    case Act::StaleReport:
    case Act::StaleDrep: {
      // The claim gets REJ 10; the connection it claims gets a DREQ naming the QPN (StaleDreq),
      // or its DREQ already does (StaleReport), or a DREP (StaleDrep); the consumer is told once.
      ASSERT_GE(sent.size(), 1u);
      const wire::Mad first = sent[0].mad();
      const auto* rej = std::get_if<wire::Rej>(&first.message);
      ASSERT_NE(rej, nullptr);
      EXPECT_EQ(rej->reason, wire::RejReason::StaleConnection);
      auto told = p.last<ev::StaleConnection>(events);
      ASSERT_TRUE(told.has_value());
      EXPECT_EQ(told->conn, x.self);
      if (a == Act::StaleReport) {
        EXPECT_EQ(sent.size(), 1u);
        EXPECT_EQ(after_state, State::DreqSent);
      } else if (a == Act::StaleDrep) {
        ASSERT_EQ(sent.size(), 2u);
        EXPECT_TRUE(std::holds_alternative<wire::Drep>(sent[1].mad().message));
        EXPECT_EQ(after_state, State::TimeWait);
      } else {
        ASSERT_EQ(sent.size(), 2u);
        const wire::Mad second = sent[1].mad();
        const auto* dreq = std::get_if<wire::Dreq>(&second.message);
        ASSERT_NE(dreq, nullptr);
        EXPECT_EQ(dreq->remote_qpn, x.peer_qpn);
        EXPECT_EQ(after_state, State::DreqSent);
      }
      break;
    }
    case Act::Lap:
      // ESTABLISHED with no LAP outstanding: a LAP starts the LAP machine; a REJ means the peer
      // has given the connection up (LapAct::PeerAbandoned: TIMEWAIT); the rest is dropped.
      if (in == Input::Rej) {
        EXPECT_EQ(after_state, State::TimeWait);
        EXPECT_TRUE(sent.empty());
        break;
      }
      EXPECT_EQ(after_state, State::Established);
      if (in == Input::Lap)
        EXPECT_EQ(cm.lap_state(x.self), LapState::LapRcvd);
      else
        EXPECT_GT(after.total_drops(), before.total_drops());
      break;
  }
}

std::vector<Cell> all_cells() {
  std::vector<Cell> v;
  for (State s : kLiveStates)
    for (Input i : kInputs) v.push_back({s, i});
  return v;
}

INSTANTIATE_TEST_SUITE_P(AllCells, StateTableCell, ::testing::ValuesIn(all_cells()),
                         [](const auto& info) {
                           return std::string(to_string(info.param.state)) + "_" +
                                  name(info.param.input);
                         });

TEST(StateTable, IdleRowDropsEverything) {
  for (Input i : kInputs) EXPECT_EQ(engine::act(State::Idle, i), Act::Drop);
}

TEST(StateTable, EveryStateHasARow) {
  EXPECT_EQ(std::size(engine::kTable), static_cast<size_t>(State::kCount));
}

// The alternate-path table, cell by cell in the same way: A's ESTABLISHED connection is brought
// into each LAP sub-state and given each LAP-machine input from B (or its timer).
wire::Message lap_message_for(Subject& x, LapInput in) {
  uint32_t l = x.peer, r = x.self;
  switch (in) {
    case LapInput::Lap: {
      wire::Lap m;
      m.local_comm_id = l;
      m.remote_comm_id = r;
      m.remote_qpn = x.self_qpn;
      m.alternate = lap_path();
      return m;
    }
    case LapInput::Apr: {
      wire::Apr m;
      m.local_comm_id = l;
      m.remote_comm_id = r;
      m.ap_status = wire::ApStatus::Success;
      return m;
    }
    case LapInput::Mra:
      return wire::Mra{l, r, wire::MsgRef::Other, 20, {}};
    case LapInput::Rej: {
      wire::Rej m;
      m.local_comm_id = l;
      m.remote_comm_id = r;
      m.message_rejected = wire::MsgRef::Other;
      m.reason = wire::RejReason::ConsumerDefined;
      return m;
    }
    default:
      return wire::Rtu{};
  }
}

constexpr LapState kLapStates[] = {LapState::Idle, LapState::LapSent, LapState::LapRcvd,
                                   LapState::MraLapSent, LapState::MraLapRcvd};
constexpr LapInput kLapInputs[] = {LapInput::Lap, LapInput::Apr, LapInput::Mra, LapInput::Rej,
                                   LapInput::Timeout};

std::string name(LapInput i) {
  static const char* kNames[] = {"LAP", "APR", "MRA", "REJ", "Timeout"};
  return kNames[static_cast<int>(i)];
}

struct LapCell {
  LapState state;
  LapInput input;
};

class LapTableCell : public ::testing::TestWithParam<LapCell> {};

TEST_P(LapTableCell, DoesWhatTheTableSays) {
  const auto [l, in] = GetParam();
  Subject x;
  reach_lap(x, l);
  if (HasFatalFailure()) return;
  Cm& cm = x.cm();
  Pair& p = x.p;
  const LapAct a = engine::lap_act(l, in);
  const Counters before = cm.counters();
  const size_t events_before = x.events().size();
  const Time interval = 2 * cm_time(18) + cm_time(20);

  Time at = p.now;
  if (in == LapInput::Timeout) {
    auto t = cm.next_timeout();
    if (!t) {
      // Only an outstanding LAP of ours runs a timer; in the other sub-states the cell cannot be
      // reached and must say Drop.
      EXPECT_EQ(a, LapAct::Drop) << "unreachable cell is not Drop";
      EXPECT_TRUE(l == LapState::Idle || l == LapState::LapRcvd || l == LapState::MraLapSent);
      return;
    }
    at = *t;
    cm.handle_timeout(at);
  } else {
    cm.handle_mad(p.now, x.peer_addr(), wire::encode(wire::make_mad(lap_message_for(x, in), 42)));
  }
  std::vector<Wire> sent;
  while (auto t = cm.poll_transmit()) sent.push_back(Wire{cm.config().local, t->to, t->mad});
  p.collect();
  const std::vector<Event> events(x.events().begin() + static_cast<long>(events_before),
                                  x.events().end());
  const Counters& after = cm.counters();
  const auto state = cm.state(x.self);
  const auto lap = cm.lap_state(x.self);
  auto alternate_loaded = [&] {
    auto rtr = cm.qp_attributes(x.self, QpState::Rtr);
    return rtr.has_value() && rtr->alternate.has_value() && rtr->alternate->local_lid == 0x11;
  };

  switch (a) {
    case LapAct::Drop:
      EXPECT_EQ(state, State::Established);
      EXPECT_EQ(lap, l);
      EXPECT_EQ(after.drop(Drop::InvalidState), before.drop(Drop::InvalidState) + 1);
      EXPECT_TRUE(sent.empty());
      EXPECT_TRUE(events.empty());
      break;
    case LapAct::DupDrop: {
      const CountedMsg m = in == LapInput::Lap ? CountedMsg::Lap : CountedMsg::Mra;
      EXPECT_EQ(lap, l);
      EXPECT_EQ(after.of(m).rx_duplicates, before.of(m).rx_duplicates + 1);
      EXPECT_TRUE(sent.empty());
      EXPECT_TRUE(events.empty());
      break;
    }
    case LapAct::ResendMra:
      ASSERT_EQ(sent.size(), 1u);
      ASSERT_TRUE(std::holds_alternative<wire::Mra>(sent[0].mad().message));
      EXPECT_EQ(std::get<wire::Mra>(sent[0].mad().message).message_mraed, wire::MsgRef::Other);
      EXPECT_EQ(lap, l);
      EXPECT_EQ(after.of(CountedMsg::Lap).rx_duplicates,
                before.of(CountedMsg::Lap).rx_duplicates + 1);
      EXPECT_TRUE(events.empty());
      break;
    case LapAct::LapAccept: {
      EXPECT_EQ(lap, LapState::LapRcvd);
      EXPECT_TRUE(sent.empty());  // the consumer answers (APR or MRA)
      auto got = p.last<ev::LapReceived>(events);
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(got->conn, x.self);
      break;
    }
    case LapAct::AprDone: {
      EXPECT_EQ(state, State::Established);
      EXPECT_EQ(lap, LapState::Idle);
      EXPECT_TRUE(sent.empty());
      EXPECT_EQ(cm.next_timeout(), std::nullopt);  // no more LAP retries
      EXPECT_TRUE(alternate_loaded());             // APStatus success loads the LAP's path
      auto got = p.last<ev::AprReceived>(events);
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(got->conn, x.self);
      break;
    }
    case LapAct::MraWait: {
      EXPECT_EQ(lap, LapState::MraLapRcvd);
      EXPECT_TRUE(sent.empty());
      EXPECT_EQ(cm.next_timeout(), p.now + cm_time(20) + cm_time(18));
      auto got = p.last<ev::MraReceived>(events);
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(got->conn, x.self);
      break;
    }
    case LapAct::LapRejected: {
      EXPECT_EQ(state, State::Established);  // only the LAP is rejected
      EXPECT_EQ(lap, LapState::Idle);
      EXPECT_TRUE(sent.empty());
      EXPECT_EQ(cm.next_timeout(), std::nullopt);
      EXPECT_FALSE(alternate_loaded());
      auto got = p.last<ev::RejReceived>(events);
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(got->prior, State::Established);
      break;
    }
    case LapAct::PeerAbandoned: {
      EXPECT_EQ(state, State::TimeWait);
      EXPECT_EQ(lap, LapState::Idle);
      EXPECT_TRUE(sent.empty());
      EXPECT_EQ(cm.next_timeout(), p.now + cm_time(19));
      auto got = p.last<ev::RejReceived>(events);
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(got->conn, x.self);
      EXPECT_EQ(got->prior, State::Established);
      break;
    }
    case LapAct::RetryLap:
      ASSERT_EQ(sent.size(), 1u);
      EXPECT_TRUE(std::holds_alternative<wire::Lap>(sent[0].mad().message));
      EXPECT_EQ(state, State::Established);
      EXPECT_EQ(lap, LapState::LapSent);
      EXPECT_EQ(after.of(CountedMsg::Lap).tx_retries, before.of(CountedMsg::Lap).tx_retries + 1);
      EXPECT_EQ(cm.next_timeout(), at + interval);
      EXPECT_TRUE(events.empty());
      break;
  }
}

std::vector<LapCell> all_lap_cells() {
  std::vector<LapCell> v;
  for (LapState s : kLapStates)
    for (LapInput i : kLapInputs) v.push_back({s, i});
  return v;
}

INSTANTIATE_TEST_SUITE_P(AllCells, LapTableCell, ::testing::ValuesIn(all_lap_cells()),
                         [](const auto& info) {
                           return std::string(to_string(info.param.state)) + "_" +
                                  name(info.param.input);
                         });

TEST(LapTable, EverySubStateHasARow) {
  EXPECT_EQ(std::size(engine::kLapTable), std::size(kLapStates));
  EXPECT_EQ(std::size(engine::kLapTable[0]), std::size(kLapInputs));
}

// A REJ that names REQ or REP cannot be about our LAP: whatever the LAP sub-state, the peer has
// given the connection up (PeerAbandoned), not rejected the alternate path.
TEST(LapTable, RejNamingRepWhileOurLapIsOutstandingEndsTheConnection) {
  for (LapState l : {LapState::LapSent, LapState::MraLapRcvd}) {
    ASSERT_EQ(engine::lap_act(l, LapInput::Rej), LapAct::LapRejected);
    Subject x;
    reach_lap(x, l);
    if (HasFatalFailure()) return;
    wire::Message m = lap_message_for(x, LapInput::Rej);
    std::get<wire::Rej>(m).message_rejected = wire::MsgRef::Rep;
    std::get<wire::Rej>(m).reason = wire::RejReason::Timeout;
    x.cm().handle_mad(x.p.now, x.peer_addr(), wire::encode(wire::make_mad(m, 42)));
    EXPECT_EQ(x.cm().state(x.self), State::TimeWait) << to_string(l);
    EXPECT_EQ(x.cm().lap_state(x.self), LapState::Idle);
    x.p.collect();
    auto got = x.p.last<ev::RejReceived>(x.events());
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->rej.reason, wire::RejReason::Timeout);
  }
}

}  // namespace
