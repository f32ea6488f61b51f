// ConnLife: the order of one connection's events and consumer calls that the random-run checker
// holds the engine to. Legal lives pass step by step; each illegal step names what was wrong.
#include "sim/conn_life.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace ibcm::sim::test {
namespace {

using Stage = ConnLife::Stage;
constexpr ConnId kConn = 7;

ev::RejReceived rej(State prior, wire::RejReason reason, wire::MsgRef what = wire::MsgRef::Req) {
  wire::Rej r;
  r.reason = reason;
  r.message_rejected = what;
  return ev::RejReceived{kConn, prior, r};
}
ev::MraReceived mra(wire::MsgRef what) {
  wire::Mra m;
  m.message_mraed = what;
  return ev::MraReceived{kConn, m};
}

// Feeds the steps (an Event or a Call each) and expects every one to be legal.
struct Step {
  template <class E>
  Step(E e) : event(std::move(e)) {}  // any ev:: type
  Step(Call c) : call(c), is_call(true) {}
  Event event = ev::Established{kConn};
  Call call = Call::Accept;
  bool is_call = false;
};
std::string feed(ConnLife& l, const Step& s) {
  return s.is_call ? l.call(s.call) : l.event(s.event);
}
void expect_legal(ConnLife& l, const std::vector<Step>& steps) {
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(feed(l, steps[i]), "") << "step " << i;
}

TEST(ConnLife, ActiveSideFromConnectToTimewaitExit) {
  ConnLife l = ConnLife::active();
  EXPECT_FALSE(l.settled());  // an outcome is owed
  expect_legal(l, {mra(wire::MsgRef::Req), ev::RepReceived{kConn, {}}, ev::Established{kConn}});
  EXPECT_EQ(l.stage(), Stage::Established);
  EXPECT_TRUE(l.settled());
  expect_legal(l, {Call::Disconnect, ev::DrepReceived{kConn, {}}});
  EXPECT_EQ(l.stage(), Stage::TimeWait);
  EXPECT_FALSE(l.settled());  // timewait_exit is owed
  expect_legal(l, {ev::TimeWaitExit{kConn}});
  EXPECT_EQ(l.stage(), Stage::Ended);
  EXPECT_TRUE(l.settled());
}

TEST(ConnLife, PassiveSideFromReqToTimewaitExit) {
  ConnLife l = ConnLife::passive();
  expect_legal(l, {Call::Accept, mra(wire::MsgRef::Rep), ev::RtuReceived{kConn, {}},
                   ev::Established{kConn}, ev::DreqReceived{kConn, {}}});
  EXPECT_EQ(l.stage(), Stage::DreqReceived);
  EXPECT_FALSE(l.settled());  // the consumer owes its DREP
  expect_legal(l, {Call::SendDrep, ev::TimeWaitExit{kConn}});
  EXPECT_EQ(l.stage(), Stage::Ended);
}

TEST(ConnLife, EachConnectEndsInOneOutcome) {
  auto ended_by = [](const Event& e) {
    ConnLife l = ConnLife::active();
    EXPECT_EQ(l.event(e), "");
    return l.stage();
  };
  EXPECT_EQ(ended_by(ev::ReqTimeout{kConn}), Stage::Ended);
  EXPECT_EQ(ended_by(rej(State::ReqSent, wire::RejReason::ConsumerDefined)), Stage::Ended);
  EXPECT_EQ(ended_by(rej(State::MraReqRcvd, wire::RejReason::StaleConnection)), Stage::TimeWait);
  EXPECT_EQ(ended_by(ev::Aborted{kConn, wire::RejReason::StaleConnection}), Stage::TimeWait);

  ConnLife l = ConnLife::active();
  ASSERT_EQ(l.event(ev::ReqTimeout{kConn}), "");
  EXPECT_EQ(l.event(ev::RepReceived{kConn, {}}), "rep_received while ended");
  EXPECT_EQ(l.event(ev::ReqTimeout{kConn}), "req_timeout while ended");
}

TEST(ConnLife, DisconnectGetsOneAnswerThenTimewaitExit) {
  ConnLife l = ConnLife::active();
  expect_legal(l, {ev::RepReceived{kConn, {}}, ev::Established{kConn}});
  EXPECT_EQ(l.event(ev::DrepReceived{kConn, {}}), "drep_received while established");
  EXPECT_EQ(l.event(ev::TimeWaitExit{kConn}), "timewait_exit while established");
  expect_legal(l, {Call::Disconnect, ev::DreqTimeout{kConn}});
  EXPECT_EQ(l.event(ev::DrepReceived{kConn, {}}), "drep_received while TIMEWAIT");
  EXPECT_EQ(l.event(ev::DreqTimeout{kConn}), "dreq_timeout while TIMEWAIT");
}

TEST(ConnLife, CrossingDreqsAreAnsweredByDrep) {
  ConnLife l = ConnLife::passive();
  expect_legal(l, {Call::Accept, ev::Established{kConn}, Call::Disconnect,
                   ev::DreqReceived{kConn, {}}, Call::SendDrep, ev::TimeWaitExit{kConn}});
  EXPECT_EQ(l.stage(), Stage::Ended);
}

TEST(ConnLife, EstablishedNeedsTheHandshake) {
  ConnLife active = ConnLife::active();
  EXPECT_EQ(active.event(ev::Established{kConn}), "established while connecting");
  ConnLife passive = ConnLife::passive();
  EXPECT_EQ(passive.event(ev::Established{kConn}), "established while accepting");  // no REP
  EXPECT_EQ(passive.event(ev::RepTimeout{kConn}), "rep_timeout while accepting");
  ASSERT_EQ(passive.call(Call::Accept), "");
  EXPECT_EQ(passive.call(Call::Accept), "accept() succeeded while accepting");
  EXPECT_EQ(passive.call(Call::Reject), "reject() succeeded while accepting");  // REP is out
  ASSERT_EQ(passive.event(ev::Established{kConn}), "");
  EXPECT_EQ(passive.event(ev::Established{kConn}), "established while established");
}

TEST(ConnLife, ARejOnEstablishedRejectsOurLapOrEndsTheConnection) {
  ConnLife l = ConnLife::active();
  expect_legal(l, {ev::RepReceived{kConn, {}}, ev::Established{kConn}});
  EXPECT_EQ(l.event(ev::AprReceived{kConn, {}}), "apr_received while established");  // no LAP
  expect_legal(l, {Call::LoadAlternatePath});
  EXPECT_FALSE(l.settled());  // APR, REJ or lap_timeout owed
  expect_legal(l, {mra(wire::MsgRef::Other),
                   rej(State::Established, wire::RejReason::ConsumerDefined, wire::MsgRef::Other)});
  EXPECT_EQ(l.stage(), Stage::Established);
  EXPECT_TRUE(l.settled());
  expect_legal(l, {rej(State::Established, wire::RejReason::Timeout, wire::MsgRef::Rep)});
  EXPECT_EQ(l.stage(), Stage::TimeWait);
}

TEST(ConnLife, AStaleConnectionIsToldOnceAndTornDown) {
  ConnLife l = ConnLife::passive();
  expect_legal(l, {Call::Accept, ev::Established{kConn}, ev::StaleConnection{kConn, 0x100, 0x2c9}});
  EXPECT_EQ(l.stage(), Stage::Disconnecting);
  EXPECT_EQ(l.event(ev::StaleConnection{kConn, 0x100, 0x2c9}),
            "stale_connection while disconnecting");
  expect_legal(l, {ev::DrepReceived{kConn, {}}, ev::TimeWaitExit{kConn}});

  ConnLife answering = ConnLife::passive();  // in DREQ_RCVD the engine sends the DREP itself
  expect_legal(answering, {Call::Accept, ev::Established{kConn}, ev::DreqReceived{kConn, {}},
                           ev::StaleConnection{kConn, 0x100, 0x2c9}, ev::TimeWaitExit{kConn}});
}

TEST(ConnLife, NothingFollowsDestroy) {
  ConnLife l = ConnLife::active();
  expect_legal(l, {Call::Destroy});
  EXPECT_TRUE(l.settled());
  EXPECT_EQ(l.event(ev::ReqTimeout{kConn}), "req_timeout while destroyed");
}

TEST(ConnLife, AnIllegalStepChangesNothing) {
  ConnLife l = ConnLife::active();
  EXPECT_NE(l.event(ev::DreqReceived{kConn, {}}), "");
  EXPECT_EQ(l.stage(), Stage::Connecting);
  EXPECT_EQ(l.event(ev::RepReceived{kConn, {}}), "");
}

}  // namespace
}  // namespace ibcm::sim::test
