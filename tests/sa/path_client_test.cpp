// The SA client over a fake umad port: the agent it registers, where and how each request goes,
// recorded answers read back from the port, the MAD layer's reports and refusals, and where the
// SA is found from a port's sysfs attributes.
#include "ibcm/sa/path_client.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/timerfd.h>

#include "sa/fake_sa_port.h"
#include "umad/sysfs_tree.h"

using namespace ibcm;
using namespace ibcm::sa;
using namespace ibcm::sa::test;
using namespace std::chrono_literals;
using umad::test::tid_of;

namespace {

const SaAddress kSa{1, 0, 0};

struct Client {
  explicit Client(SaAddress sa = kSa, QueryOptions o = {}) {
    auto c = PathClient::open(std::make_unique<FakeSaPort>(port), sa, o);
    EXPECT_TRUE(c);
    if (c) client = std::move(*c);
  }
  std::shared_ptr<FakePortState> port = fake_ib_port();
  std::unique_ptr<PathClient> client;
};

bool readable(int fd, int wait_ms = 0) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, wait_ms) == 1;
}

QueryOptions options(Time timeout, uint8_t max_retries) {
  QueryOptions o;
  o.timeout = timeout;
  o.max_retries = max_retries;
  return o;
}

// How long until the timer fd expires; 0 when it is disarmed.
Time timer_left(int fd) {
  itimerspec t{};
  EXPECT_EQ(::timerfd_gettime(fd, &t), 0);
  return std::chrono::seconds(t.it_value.tv_sec) + std::chrono::nanoseconds(t.it_value.tv_nsec);
}

}  // namespace

TEST(SaPathClient, RegistersAClientAgentForTheSaClass) {
  Client c;
  ASSERT_TRUE(c.port->registered);
  EXPECT_EQ(c.port->mgmt_class, 0x03);
  EXPECT_EQ(c.port->class_version, 2);
  EXPECT_TRUE(c.port->methods.empty());  // answers come by TID; it takes no requests
  EXPECT_EQ(c.client->agent_id(), c.port->agent_id);
}

TEST(SaPathClient, SendsTheGetToTheSmOnQp1) {
  Client c(SaAddress{0x0041, 7, 2});
  c.client->resolve(0ns, our_request());
  ASSERT_EQ(c.port->sent.size(), 1u);
  const umad::UmadMad& m = c.port->sent[0];
  EXPECT_EQ(m.agent_id, c.port->agent_id);
  EXPECT_EQ(m.addr.lid, 0x0041);
  EXPECT_EQ(m.addr.qpn, 1u);
  EXPECT_EQ(m.addr.qkey, 0x80010000u);
  EXPECT_EQ(m.addr.sl, 7);
  EXPECT_EQ(m.addr.pkey_index, 2);
  EXPECT_FALSE(m.addr.grh_present);  // the SA is in our subnet
  EXPECT_EQ(m.length, 256);
  // Held open for the answer (ib_mad drops a response to a send that waits for none); the MAD
  // layer does not retry, the query does.
  EXPECT_EQ(m.timeout_ms, 500u);
  EXPECT_EQ(m.retries, 0u);
  EXPECT_EQ(m.mad, kPathGetRequest);  // as the MAD layer put it on the wire
}

TEST(SaPathClient, ReadsTheRecordedAnswerOffThePort) {
  Client c;
  QueryId id = c.client->resolve(0ns, our_request());
  answer(*c.port, kPathGetResp, 0);
  EXPECT_TRUE(readable(c.client->fd()));
  c.client->on_readable(2ms);
  EXPECT_FALSE(readable(c.client->fd()));
  auto answers = c.client->take_answers();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].id, id);
  ASSERT_TRUE(answers[0].result);
  ConnectParams params;
  apply(*answers[0].result, params);
  EXPECT_EQ(params.primary.local_lid, 3);
  EXPECT_EQ(params.primary.remote_lid, 5);
  EXPECT_EQ(params.primary.local_gid, kOurGid);
  EXPECT_EQ(params.primary.remote_gid, kPeerGid);
  EXPECT_EQ(params.mtu, wire::Mtu::Mtu4096);
  EXPECT_EQ(c.client->next_timeout(), std::nullopt);
}

TEST(SaPathClient, RetriesOnItsTimerWithANewTid) {
  Client c(kSa, options(50ms, 1));
  c.client->resolve(0ns, our_request());
  EXPECT_EQ(c.client->next_timeout(), Time(50ms));
  c.client->on_timer(50ms);
  ASSERT_EQ(c.port->sent.size(), 2u);
  EXPECT_NE(tid_of(c.port->sent[0].mad), tid_of(c.port->sent[1].mad));
  EXPECT_EQ(c.port->sent[1].timeout_ms, 50u);
  // The MAD layer reports the first try's time passed: counted, no answer.
  umad::UmadMad report;
  report.status = ETIMEDOUT;
  report.length = 24;
  report.mad = c.port->sent[0].mad;
  c.port->push(report);
  c.client->on_readable(60ms);
  EXPECT_TRUE(c.client->take_answers().empty());
  EXPECT_EQ(c.client->counters().rx_send_reports, 1u);
  answer(*c.port, kPathGetResp, 1);
  c.client->on_readable(70ms);
  auto answers = c.client->take_answers();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(answers[0].result);
  EXPECT_EQ(answers[0].tries, 2u);
}

TEST(SaPathClient, TheTimerFdFollowsTheNextTimeout) {
  Client c;
  EXPECT_EQ(timer_left(c.client->timer_fd()), 0ns);
  c.client->resolve(1s, our_request());  // the caller's clock: only differences count
  EXPECT_GT(timer_left(c.client->timer_fd()), 0ns);
  EXPECT_LE(timer_left(c.client->timer_fd()), 500ms);
  QueryId second = c.client->resolve(1s + 200ms, our_request());
  EXPECT_LE(timer_left(c.client->timer_fd()), 300ms);  // still the first query's
  c.client->cancel(1);
  EXPECT_GT(timer_left(c.client->timer_fd()), 0ns);  // the second still runs
  answer(*c.port, kPathGetResp, 1);
  c.client->on_readable(1s + 300ms);
  EXPECT_EQ(c.client->take_answers().at(0).id, second);
  EXPECT_EQ(timer_left(c.client->timer_fd()), 0ns);
}

TEST(SaPathClient, AnExpiredTimerIsConsumedByOnTimer) {
  Client c(kSa, options(1us, 0));
  c.client->resolve(0ns, our_request());
  ASSERT_TRUE(readable(c.client->timer_fd(), 5000));  // expires 1 us after the send
  c.client->on_timer(1us);
  EXPECT_FALSE(readable(c.client->timer_fd()));
  EXPECT_EQ(timer_left(c.client->timer_fd()), 0ns);
  auto answers = c.client->take_answers();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].result.error().kind, QueryErrorKind::Timeout);
}

TEST(SaPathClient, ReadsThatHoldNoMadAreCountedAsMalformed) {
  Client c;
  c.client->resolve(0ns, our_request());
  for (int32_t length : {-4, 0, 10, 257, 2048}) {
    umad::UmadMad m;
    m.mad = kPathGetResp;
    m.length = length;
    c.port->push(m);
  }
  c.client->on_readable(1ms);
  EXPECT_EQ(c.client->counters().rx_malformed, 5u);
  EXPECT_EQ(c.client->counters().rx_mads, 5u);
  EXPECT_TRUE(c.client->take_answers().empty());
  answer(*c.port, kPathGetResp, 0);
  c.client->on_readable(2ms);
  EXPECT_EQ(c.client->take_answers().size(), 1u);
}

TEST(SaPathClient, ARefusedSendEndsTheQuery) {
  Client c;
  c.port->send_errno = EINVAL;
  QueryId id = c.client->resolve(0ns, our_request());
  auto answers = c.client->take_answers();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].id, id);
  ASSERT_FALSE(answers[0].result);
  EXPECT_EQ(answers[0].result.error(), (QueryError{QueryErrorKind::SendFailed, 0, EINVAL}));
  EXPECT_EQ(c.client->counters().tx_errors, 1u);
  EXPECT_EQ(c.client->next_timeout(), std::nullopt);
}

TEST(SaPathClient, RegistrationFailureIsReported) {
  auto port = fake_ib_port();
  port->register_errno = EPERM;
  auto c = PathClient::open(std::make_unique<FakeSaPort>(port), kSa);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, umad::UmadErrorKind::RegisterFailed);
  EXPECT_EQ(c.error().message,
            "cannot register an SA client agent (class 0x03): Operation not permitted");
}

TEST(SaPathClient, FindsTheSaFromThePortsAttributes) {
  umad::test::SysfsTree sys;
  sys.add_port("mlx5_0", 1, "4: ACTIVE", "InfiniBand", "0x3");
  sys.set("mlx5_0", 1, "sm_sl", "5");
  umad::PortInfo port;
  port.device = "mlx5_0";
  port.port = 1;
  port.link_layer = umad::LinkLayer::InfiniBand;
  port.lid = 3;
  port.sm_lid = 1;
  port.pkeys = {0x8001, 0x7FFF, 0xFFFF};
  auto a = sa_address_of(port, sys.root());
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, (SaAddress{1, 5, 2}));  // the full default P_Key's index
  port.pkeys = {0x8001, 0x7FFF};
  EXPECT_EQ(sa_address_of(port, sys.root())->pkey_index, 1);  // else the limited one's
  port.pkeys = {0x8001};
  EXPECT_EQ(sa_address_of(port, sys.root())->pkey_index, 0);
  sys.set("mlx5_0", 1, "sm_sl", "junk");
  EXPECT_EQ(sa_address_of(port, sys.root())->sm_sl, 0);

  port.sm_lid = 0;
  auto no_sm = sa_address_of(port, sys.root());
  ASSERT_FALSE(no_sm);
  EXPECT_EQ(no_sm.error(), "mlx5_0 port 1 knows no subnet manager (sm_lid 0)");
  port.link_layer = umad::LinkLayer::Ethernet;
  auto roce = sa_address_of(port, sys.root());
  ASSERT_FALSE(roce);
  EXPECT_EQ(roce.error(), "mlx5_0 port 1 is not InfiniBand: there is no SA to ask for paths");
}
