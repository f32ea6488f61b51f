// ucmatose's exchange on the fake device: receives before the connection, sends once
// established, every completion counted each way, errors named, the buffer deregistered.
#include "ibcm/verbs/message_exchange.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "verbs/lab.h"

using namespace ibcm;
using namespace ibcm::verbs;
using namespace ibcm::verbs::test;

namespace {

MessageExchange exchange_on(Host& h, const BoundQp& q, uint32_t count, uint32_t size) {
  auto x = MessageExchange::open(h.verbs, h.device->pd(), q.qp, q.cq, count, size);
  EXPECT_TRUE(x.has_value());
  return std::move(x).value();
}

// The QPNs whose CQs signalled, as the CLI learns them from the completion channel.
std::vector<uint32_t> signalled(Host& h) {
  auto r = h.qps->take_completion_events();
  EXPECT_TRUE(r.has_value());
  return r ? *r : std::vector<uint32_t>{};
}

// Opened on an established connection, receives and sends posted.
MessageExchange started(Host& h, const BoundQp& q, uint32_t count, uint32_t size) {
  MessageExchange x = exchange_on(h, q, count, size);
  EXPECT_TRUE(x.post_receives().has_value());
  EXPECT_TRUE(x.post_sends().has_value());
  return x;
}

// A connection both sides' bindings carry; A's QP is where the exchange runs.
class ExchangeOnConnection : public ::testing::Test {
 protected:
  void SetUp() override {
    std::tie(ca, cb) = lab.handshake();
    qa = *lab.a.qps->find(ca);
  }
  Lab lab;
  ConnId ca = 0, cb = 0;
  BoundQp qa;
};

}  // namespace

TEST(MessageExchange, ReceivesGoUpBeforeTheConnectionSendsOnlyOnceItIsUp) {
  Lab lab;
  auto q = lab.a.qps->create(rc_options(3));
  ASSERT_TRUE(q.has_value());
  MessageExchange x = exchange_on(lab.a, *lab.a.qps->find_qpn(q->qpn), 3, 100);
  ASSERT_TRUE(x.post_receives().has_value());
  EXPECT_EQ(lab.a.verbs.receives(q->qpn).size(), 3u);
  EXPECT_EQ(x.receives_outstanding(), 3u);
  auto early = x.post_sends();  // the QP is in INIT
  ASSERT_FALSE(early.has_value());
  EXPECT_EQ(early.error().call, Call::PostSend);
  EXPECT_EQ(lab.a.verbs.live.mrs, 1);
}

TEST_F(ExchangeOnConnection, CountsMessagesAndBytesEachWay) {
  {
    MessageExchange x = started(lab.a, qa, 4, 100);
    const auto& sent = lab.a.verbs.sends(qa.qpn);
    ASSERT_EQ(sent.size(), 4u);
    EXPECT_TRUE(std::all_of(sent.begin(), sent.end(), [](auto& s) { return s.length == 100; }));
    EXPECT_TRUE(signalled(lab.a).empty());  // nothing completed yet

    lab.a.verbs.complete_sends(qa.qpn);
    lab.a.verbs.arrive(qa.qpn, 4, 100);
    EXPECT_EQ(signalled(lab.a), std::vector<uint32_t>{qa.qpn});
    auto n = x.poll(Time{12345});
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(*n, 8u);
    EXPECT_TRUE(x.complete());
    const ExchangeStats& s = x.stats();
    EXPECT_EQ(s.first_completion, Time{12345});
    EXPECT_EQ(s.messages_sent, 4u);
    EXPECT_EQ(s.messages_received, 4u);
    EXPECT_EQ(s.bytes_sent, 400u);
    EXPECT_EQ(s.bytes_received, 400u);
    EXPECT_EQ(s.errors, 0u);
    EXPECT_EQ(lab.a.verbs.live.mrs, 1);
  }
  EXPECT_EQ(lab.a.verbs.live.mrs, 0);  // deregistered with the exchange
}

TEST_F(ExchangeOnConnection, CompletionErrorsAreNamedAndTheFlushCompletesTheRest) {
  MessageExchange x = started(lab.a, qa, 2, 64);
  lab.a.verbs.complete_sends(qa.qpn, IBV_WC_RETRY_EXC_ERR);
  ASSERT_TRUE(x.poll(Time{1}).has_value());
  EXPECT_FALSE(x.complete());  // the receives are still posted
  EXPECT_EQ(x.stats().errors, 2u);
  EXPECT_EQ(x.stats().first_error, "transport retry counter exceeded");
  EXPECT_EQ(x.stats().messages_sent, 0u);
  EXPECT_EQ(x.stats().flushed, 0u) << "a retry error is a failure, not a flush";

  // The connection ends: ERR flushes the receives, which complete in error too.
  ASSERT_TRUE(lab.p.a.disconnect(lab.p.now, ca).has_value());
  lab.a.qps->flush(ca);
  EXPECT_EQ(signalled(lab.a), std::vector<uint32_t>{qa.qpn});
  ASSERT_TRUE(x.poll(Time{2}).has_value());
  EXPECT_TRUE(x.complete());
  EXPECT_EQ(x.stats().errors, 4u);
  EXPECT_EQ(x.stats().flushed, 2u);
  EXPECT_EQ(x.stats().first_completion, Time{1});
}

// Each arming gives one event; after take_completion_events re-arms, later completions signal
// again.
TEST_F(ExchangeOnConnection, CompletionChannelIsRearmedAfterEachEvent) {
  MessageExchange x = exchange_on(lab.a, qa, 2, 8);
  ASSERT_TRUE(x.post_receives().has_value());
  lab.a.verbs.arrive(qa.qpn, 1, 8);
  lab.a.verbs.arrive(qa.qpn, 1, 8);  // the CQ was armed once: one event for both
  EXPECT_EQ(signalled(lab.a).size(), 1u);
  EXPECT_TRUE(signalled(lab.a).empty());
  ASSERT_TRUE(x.post_sends().has_value());
  lab.a.verbs.complete_sends(qa.qpn);
  EXPECT_EQ(signalled(lab.a), std::vector<uint32_t>{qa.qpn});
  ASSERT_EQ(*x.poll(Time{5}), 4u);
  EXPECT_TRUE(x.complete());
  EXPECT_EQ(lab.a.qps->counters().cq_events, 2u);
  EXPECT_EQ(lab.a.qps->completion_fd(), 1000);  // the fake channel's
}

TEST_F(ExchangeOnConnection, NoBytesNoMessages) {
  MessageExchange x = started(lab.a, qa, 10, 0);
  EXPECT_TRUE(x.complete());
  EXPECT_EQ(lab.a.verbs.live.mrs, 0);
}

TEST_F(ExchangeOnConnection, RegistrationFailureIsReported) {
  lab.a.verbs.fail_reg_mr = ENOMEM;
  auto x = MessageExchange::open(lab.a.verbs, lab.a.device->pd(), qa.qp, qa.cq, 10, 100);
  ASSERT_FALSE(x.has_value());
  EXPECT_EQ(x.error().call, Call::RegMr);
  EXPECT_NE(x.error().message.find("1100 bytes"), std::string::npos) << x.error().message;
}

// A datagram exchange (SIDR's UD QP, as udaddy's): each receive leaves room for the GRH, which is
// not counted as message bytes, and the sends go through the address handle to the QP and Q_Key
// the SIDR_REP named, carrying our QPN as immediate data.
TEST(DatagramExchange, LeavesGrhRoomAndSendsToThePeersQpAndQkey) {
  Lab lab;
  auto q = lab.a.qps->create_datagram(0x01234567, 2, 2);
  ASSERT_TRUE(q.has_value());
  const BoundQp& b = *lab.a.qps->find_qpn(q->qpn);
  auto x = MessageExchange::open(lab.a.verbs, lab.a.device->pd(), b.qp, b.cq, 2, 100, true);
  ASSERT_TRUE(x.has_value());
  ASSERT_TRUE(x->post_receives().has_value());
  auto ah = lab.a.qps->address_handle(lab.p.b.config().local);
  ASSERT_TRUE(ah.has_value());
  EXPECT_EQ(lab.a.qps->address_handles(), 1u);
  x->send_to({*ah, 0x99, 0x01234567, q->qpn});
  ASSERT_TRUE(x->post_sends().has_value());
  ASSERT_EQ(lab.a.verbs.last_send.wr.ud.remote_qpn, 0x99u);
  EXPECT_EQ(lab.a.verbs.last_send.wr.ud.remote_qkey, 0x01234567u);
  EXPECT_EQ(lab.a.verbs.last_send.wr.ud.ah, *ah);
  EXPECT_EQ(lab.a.verbs.last_send.opcode, IBV_WR_SEND_WITH_IMM);
  EXPECT_EQ(be32toh(lab.a.verbs.last_send.imm_data), q->qpn);
  lab.a.verbs.complete_sends(q->qpn);
  EXPECT_FALSE(x->received_all());
  lab.a.verbs.arrive(q->qpn, 2, MessageExchange::kGrhBytes + 100, 0x77);
  ASSERT_TRUE(x->poll(Time{3}).has_value());
  EXPECT_TRUE(x->received_all());
  EXPECT_EQ(x->stats().first_immediate, 0x77u) << "the sender's QPN, which a server answers";
  EXPECT_TRUE(x->complete());
  EXPECT_EQ(x->stats().messages_received, 2u);
  EXPECT_EQ(x->stats().bytes_received, 200u) << "the GRH is not message bytes";
  EXPECT_EQ(x->stats().bytes_sent, 200u);
}
