// Every cell of the (state x consumer call) table, exercised: a connection is brought into each
// state (and, for the alternate-path calls of an ESTABLISHED connection, each LAP sub-state), the
// call is made with valid arguments, and the outcome is checked against what the cell's action
// promises: the state after, what was sent, and for Refuse that nothing changed.
#include <gtest/gtest.h>

#include "engine/reach.h"
#include "engine/state_table.h"

using namespace ibcm;
using namespace ibcm::test;
using engine::Call;
using engine::CallAct;

namespace {

constexpr State kStates[] = {State::ReqSent,    State::ReqRcvd,    State::MraReqSent,
                             State::MraReqRcvd, State::RepSent,    State::RepRcvd,
                             State::MraRepSent, State::MraRepRcvd, State::Established,
                             State::DreqSent,   State::DreqRcvd,   State::TimeWait};
constexpr Call kCalls[] = {
    Call::Accept,    Call::Reject,     Call::SendMra,  Call::SendRtu,
    Call::Establish, Call::Disconnect, Call::SendDrep, Call::LoadAlternatePath,
    Call::SendApr,   Call::Migrate,    Call::Destroy};
constexpr LapState kLapStates[] = {LapState::Idle, LapState::LapSent, LapState::LapRcvd,
                                   LapState::MraLapSent, LapState::MraLapRcvd};
constexpr Call kLapCalls[] = {Call::SendMra, Call::LoadAlternatePath, Call::SendApr};

const char* name(Call c) {
  constexpr const char* kNames[] = {"accept",    "reject",     "send_mra",  "send_rtu",
                                    "establish", "disconnect", "send_drep", "load_alternate_path",
                                    "send_apr",  "migrate",    "destroy"};
  static_assert(std::size(kNames) == engine::kCalls);
  return kNames[static_cast<size_t>(c)];
}

// Makes call c on the subject's connection with valid arguments; destroy reports Ok.
Status make_call(Subject& x, Call c) {
  Cm& cm = x.cm();
  const Time now = x.p.now;
  switch (c) {
    case Call::Accept: {
      AcceptParams ap;
      ap.qpn = x.self_qpn;
      return cm.accept(now, x.self, ap);
    }
    case Call::Reject:
      return cm.reject(now, x.self, wire::RejReason::ConsumerDefined);
    case Call::SendMra:
      return cm.send_mra(now, x.self, 20);
    case Call::SendRtu:
      return cm.send_rtu(now, x.self);
    case Call::Establish:
      return cm.establish(now, x.self);
    case Call::Disconnect:
      return cm.disconnect(now, x.self);
    case Call::SendDrep:
      return cm.send_drep(now, x.self);
    case Call::LoadAlternatePath:
      return cm.load_alternate_path(now, x.self, lap_path());
    case Call::SendApr:
      return cm.send_apr(now, x.self, wire::ApStatus::Success);
    case Call::Migrate:
      return cm.migrate(x.self);
    case Call::Destroy:
      cm.destroy(now, x.self);
      return Ok{};
    case Call::kCount:
      break;
  }
  return Unexpected{Error::InvalidArgument};
}

// Gives the subject's ESTABLISHED connection an alternate path (LAP, APR success), which
// migrate needs beside its state.
void load_alternate(Subject& x) {
  Pair& p = x.p;
  ASSERT_TRUE(x.cm().load_alternate_path(p.now, x.self, lap_path()).has_value());
  p.deliver_one();  // LAP
  ASSERT_TRUE(x.peer_cm().send_apr(p.now, x.peer, wire::ApStatus::Success).has_value());
  p.deliver_one();  // APR
  p.in_flight.clear();
}

// What the call sent, in order.
std::vector<wire::Mad> sent_by(Cm& cm) {
  std::vector<wire::Mad> out;
  while (auto t = cm.poll_transmit()) out.push_back(*wire::decode(t->mad));
  return out;
}

template <class M>
const M* only(const std::vector<wire::Mad>& sent) {
  return sent.size() == 1 ? std::get_if<M>(&sent[0].message) : nullptr;
}

// Checks what action a did, given the state s before and what the call returned and sent.
void check_outcome(Subject& x, State s, CallAct a, const Status& result,
                   const std::vector<wire::Mad>& sent) {
  Cm& cm = x.cm();
  const auto state = cm.state(x.self);
  if (a == CallAct::Refuse) {
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error(), Error::InvalidState);
    EXPECT_EQ(state, s);
    EXPECT_TRUE(sent.empty());
    return;
  }
  ASSERT_TRUE(result.has_value()) << static_cast<int>(result.error());
  auto rej = [&](wire::MsgRef what, wire::RejReason reason) {
    const auto* r = only<wire::Rej>(sent);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->message_rejected, what);
    EXPECT_EQ(r->reason, reason);
  };
  switch (a) {
    case CallAct::Refuse:
      break;
    case CallAct::SendRep:
      EXPECT_EQ(state, State::RepSent);
      EXPECT_NE(only<wire::Rep>(sent), nullptr);
      break;
    case CallAct::RejectReq:
    case CallAct::RejectRep:
      EXPECT_EQ(state, std::nullopt);
      rej(a == CallAct::RejectReq ? wire::MsgRef::Req : wire::MsgRef::Rep,
          wire::RejReason::ConsumerDefined);
      break;
    case CallAct::MraReq:
    case CallAct::MraRep: {
      EXPECT_EQ(state, a == CallAct::MraReq ? State::MraReqSent : State::MraRepSent);
      const auto* m = only<wire::Mra>(sent);
      ASSERT_NE(m, nullptr);
      EXPECT_EQ(m->message_mraed, a == CallAct::MraReq ? wire::MsgRef::Req : wire::MsgRef::Rep);
      break;
    }
    case CallAct::SendRtu:
      EXPECT_EQ(state, State::Established);
      EXPECT_NE(only<wire::Rtu>(sent), nullptr);
      break;
    case CallAct::Establish:
      EXPECT_EQ(state, State::Established);
      EXPECT_TRUE(sent.empty());
      break;
    case CallAct::SendDreq:
      EXPECT_EQ(state, State::DreqSent);
      EXPECT_NE(only<wire::Dreq>(sent), nullptr);
      EXPECT_TRUE(cm.next_timeout().has_value());  // its retry
      break;
    case CallAct::DrepTimeWait:
      EXPECT_EQ(state, State::TimeWait);
      EXPECT_NE(only<wire::Drep>(sent), nullptr);
      break;
    case CallAct::Migrate:
      EXPECT_EQ(state, State::Established);
      EXPECT_TRUE(sent.empty());
      EXPECT_EQ(cm.migrate(x.self).error(), Error::InvalidState);  // the alternate is used up
      break;
    case CallAct::Free:
      EXPECT_EQ(state, std::nullopt);
      EXPECT_TRUE(sent.empty());
      break;
    case CallAct::RejTimeout:
      EXPECT_EQ(state, std::nullopt);
      rej(wire::MsgRef::Req, wire::RejReason::Timeout);
      break;
    case CallAct::RejectRepTimeWait:
      EXPECT_EQ(state, State::TimeWait);
      rej(wire::MsgRef::Rep, wire::RejReason::ConsumerDefined);
      break;
    case CallAct::DreqOnceTimeWait:
      EXPECT_EQ(state, State::TimeWait);
      EXPECT_NE(only<wire::Dreq>(sent), nullptr);
      break;
    case CallAct::TimeWait:
    case CallAct::Ignore:
      EXPECT_EQ(state, State::TimeWait);
      EXPECT_TRUE(sent.empty());
      break;
    case CallAct::Lap:
      ADD_FAILURE() << "call_act() never answers Lap";
      break;
    case CallAct::SendLap:
      EXPECT_EQ(cm.lap_state(x.self), LapState::LapSent);
      EXPECT_NE(only<wire::Lap>(sent), nullptr);
      break;
    case CallAct::SendApr:
      EXPECT_EQ(cm.lap_state(x.self), LapState::Idle);
      EXPECT_NE(only<wire::Apr>(sent), nullptr);
      break;
    case CallAct::MraLap: {
      EXPECT_EQ(cm.lap_state(x.self), LapState::MraLapSent);
      const auto* m = only<wire::Mra>(sent);
      ASSERT_NE(m, nullptr);
      EXPECT_EQ(m->message_mraed, wire::MsgRef::Other);
      break;
    }
  }
}

struct Cell {
  State state;
  Call call;
};

class CallTableCell : public ::testing::TestWithParam<Cell> {};

TEST_P(CallTableCell, DoesWhatTheTableSays) {
  const auto [s, c] = GetParam();
  Subject x;
  reach(x, s);
  if (HasFatalFailure()) return;
  const CallAct a = engine::call_act(s, LapState::Idle, c);
  if (a == CallAct::Migrate) load_alternate(x);
  if (HasFatalFailure()) return;
  const Status result = make_call(x, c);
  check_outcome(x, s, a, result, sent_by(x.cm()));
}

std::vector<Cell> all_cells() {
  std::vector<Cell> v;
  for (State s : kStates) {
    for (Call c : kCalls) v.push_back({s, c});
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(AllCells, CallTableCell, ::testing::ValuesIn(all_cells()),
                         [](const auto& info) {
                           return std::string(to_string(info.param.state)) + "_" +
                                  name(info.param.call);
                         });

// No connection is ever IDLE once made: that row is never reached, and says what it must.
TEST(CallTable, IdleRowRefusesEverythingButDestroy) {
  for (Call c : kCalls)
    EXPECT_EQ(engine::call_act(State::Idle, LapState::Idle, c),
              c == Call::Destroy ? CallAct::Free : CallAct::Refuse);
}

TEST(CallTable, EveryStateHasARowAndDestroyIsNeverRefused) {
  ASSERT_EQ(std::size(engine::kCallTable), static_cast<size_t>(State::kCount));
  for (const auto& row : engine::kCallTable)
    EXPECT_NE(row[static_cast<size_t>(Call::Destroy)], CallAct::Refuse);
}

TEST(CallTable, UnknownConnectionsAreRefusedBeforeTheTable) {
  Pair p;
  EXPECT_EQ(p.a.disconnect(p.now, 12345).error(), Error::UnknownConnection);
  EXPECT_EQ(p.a.migrate(12345).error(), Error::UnknownConnection);
  p.a.destroy(p.now, 12345);  // nothing to do, nothing sent
  EXPECT_FALSE(p.a.poll_transmit().has_value());
}

// The alternate-path calls of an ESTABLISHED connection, cell by cell of the LAP call table.
struct LapCell {
  LapState lap;
  Call call;
};

class LapCallTableCell : public ::testing::TestWithParam<LapCell> {};

TEST_P(LapCallTableCell, DoesWhatTheTableSays) {
  const auto [l, c] = GetParam();
  Subject x;
  reach_lap(x, l);
  if (HasFatalFailure()) return;
  const CallAct a = engine::call_act(State::Established, l, c);
  const Status result = make_call(x, c);
  const std::vector<wire::Mad> sent = sent_by(x.cm());
  if (a == CallAct::Refuse) {
    EXPECT_EQ(x.cm().lap_state(x.self), l);
  }
  check_outcome(x, State::Established, a, result, sent);
}

std::vector<LapCell> all_lap_cells() {
  std::vector<LapCell> v;
  for (LapState l : kLapStates) {
    for (Call c : kLapCalls) v.push_back({l, c});
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(AllCells, LapCallTableCell, ::testing::ValuesIn(all_lap_cells()),
                         [](const auto& info) {
                           return std::string(to_string(info.param.lap)) + "_" +
                                  name(info.param.call);
                         });

}  // namespace
