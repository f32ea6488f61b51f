// Every cell of the (state x input) table, exercised: a connection is brought into each state,
// given each input (a well-formed message from its peer, or its timer), and the outcome is checked
// against what the cell's action promises. Cells that no input can reach are listed and checked
// to be Drop.
#include "engine/state_table.h"

#include <gtest/gtest.h>

#include "engine/pair.h"

using namespace ibcm;
using namespace ibcm::test;
using engine::Act;
using engine::Input;

namespace {

struct Subject {
  Pair p;
  bool is_a = true;  // the subject is A (else B)
  ConnId self = 0, peer = 0;
  uint32_t self_qpn = 0x100, peer_qpn = 0x200;
  Cm& cm() { return is_a ? p.a : p.b; }
  Address peer_addr() { return (is_a ? p.b : p.a).config().local; }
  uint64_t peer_guid() { return (is_a ? p.b : p.a).config().ca_guid; }
};

// Brings a fresh pair to the point where the subject connection is in state s.
void reach(Subject& x, State s) {
  Pair& p = x.p;
  ASSERT_TRUE(p.b.listen(0x1234).has_value());
  auto ca = p.a.connect(p.now, p.params(0x100));
  ASSERT_TRUE(ca.has_value());
  p.deliver_one();
  ConnId cb = p.last<ev::ReqReceived>(p.b_events)->conn;
  x.is_a = s == State::ReqSent || s == State::MraReqRcvd || s == State::RepRcvd ||
           s == State::MraRepSent || s == State::Established || s == State::DreqSent ||
           s == State::TimeWait;
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
    default:
      return wire::Rtu{};
  }
}

constexpr State kLiveStates[] = {State::ReqSent,    State::ReqRcvd,    State::MraReqSent,
                                 State::MraReqRcvd, State::RepSent,    State::RepRcvd,
                                 State::MraRepSent, State::MraRepRcvd, State::Established,
                                 State::DreqSent,   State::DreqRcvd,   State::TimeWait};
constexpr Input kInputs[] = {Input::Req,  Input::Mra,  Input::Rej, Input::Rep, Input::Rtu,
                             Input::Dreq, Input::Drep, Input::Lap, Input::Apr, Input::Timeout};

std::string name(Input i) {
  static const char* kNames[] = {"REQ",  "MRA",  "REJ", "REP", "RTU",
                                 "DREQ", "DREP", "LAP", "APR", "Timeout"};
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

  // Before the REP, the subject does not know the peer's comm ID: a REQ from the peer is then a
  // new REQ (router: on_new_req) and a DREQ naming us is one for an unknown connection (answered
  // with DREP). Neither reaches the table, whose cells there say Drop.
  bool remote_unknown = s == State::ReqSent || s == State::MraReqRcvd;
  if (remote_unknown && (in == Input::Req || in == Input::Dreq)) {
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
    case Act::MraWait:
      EXPECT_EQ(after_state, s == State::ReqSent ? State::MraReqRcvd : State::MraRepRcvd);
      break;
    case Act::RejConnect:
      EXPECT_FALSE(after_state.has_value());
      break;
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

}  // namespace
