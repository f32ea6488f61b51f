// AutoConsumer: each policy switch changes what goes on the wire the way it says.
#include "ibcm/sim/consumer.h"

#include <gtest/gtest.h>

#include "sim/workload.h"

namespace ibcm::sim::test {
namespace {

using Names = std::vector<std::string>;

struct Pair {
  explicit Pair(AutoPolicy server_policy = {}, AutoPolicy client_policy = {}) : f(config(2, 5)) {
    server_policy.listen = {kService};
    server = AutoConsumer(server_policy);
    server.attach(f, B);
    client = AutoConsumer(client_policy);
    client.attach(f, A);
  }
  Fabric f;
  AutoConsumer server, client;
};

template <class M>
M first(const Fabric& f, wire::AttrId attr) {
  const auto all = f.mads_of(attr);
  EXPECT_FALSE(all.empty());
  return all.empty() ? M{} : std::get<M>(wire::decode(all[0].bytes)->message);
}

TEST(AutoConsumer, RejectsWithTheConfiguredReason) {
  AutoPolicy sp;
  sp.on_req = AutoPolicy::OnReq::Reject;
  sp.reject_reason = wire::RejReason::InvalidServiceId;
  Pair p(sp);
  ASSERT_TRUE(p.client.connect(p.f, A, B, kService).has_value());
  EXPECT_EQ(p.f.run_until_idle(60s), Stop::Idle);
  EXPECT_EQ(p.f.event_names(A), (Names{"rej_received"}));
  EXPECT_EQ(first<wire::Rej>(p.f, wire::AttrId::Rej).reason, wire::RejReason::InvalidServiceId);
  EXPECT_EQ(p.server.tally().rejected, 1u);
  EXPECT_EQ(p.server.tally().accepted, 0u);
}

TEST(AutoConsumer, MraFirstThenAcceptAfterTheDelay) {
  AutoPolicy sp;
  sp.on_req = AutoPolicy::OnReq::MraThenAccept;
  sp.accept_delay = 250ms;
  Pair p(sp);
  ASSERT_TRUE(p.client.connect(p.f, A, B, kService).has_value());
  EXPECT_EQ(p.f.run_until_idle(60s), Stop::Idle);
  EXPECT_EQ(p.f.event_names(A), (Names{"mra_received", "rep_received", "established"}));
  const auto mras = p.f.mads_of(wire::AttrId::Mra);
  const auto reps = p.f.mads_of(wire::AttrId::Rep);
  ASSERT_EQ(mras.size(), 1u);
  ASSERT_EQ(reps.size(), 1u);
  EXPECT_EQ(reps[0].sent - mras[0].sent, 250ms);
  EXPECT_EQ(first<wire::Mra>(p.f, wire::AttrId::Mra).service_timeout, sp.mra_service_timeout);
}

TEST(AutoConsumer, NeverAnsweringDreqEndsInDreqTimeout) {
  AutoPolicy sp;
  sp.answer_dreq = false;
  AutoPolicy cp;
  cp.disconnect_after = 1ms;
  Pair p(sp, cp);
  ASSERT_TRUE(p.client.connect(p.f, A, B, kService).has_value());
  EXPECT_EQ(p.f.run_until_idle(600s), Stop::Idle);
  EXPECT_TRUE(p.f.mads_of(wire::AttrId::Drep).empty());
  EXPECT_GT(p.f.mads_of(wire::AttrId::Dreq).size(), 1u);  // retried
  EXPECT_EQ(p.f.event_names(A),
            (Names{"rep_received", "established", "dreq_timeout", "timewait_exit"}));
  EXPECT_EQ(p.client.tally().disconnected, 1u);
  EXPECT_EQ(p.server.tally().drep_sent, 0u);
}

TEST(AutoConsumer, IgnoredReqTimesOut) {
  AutoPolicy sp;
  sp.on_req = AutoPolicy::OnReq::Ignore;
  Pair p(sp);
  ASSERT_TRUE(p.client.connect(p.f, A, B, kService).has_value());
  EXPECT_EQ(p.f.run_until_idle(600s), Stop::Idle);
  EXPECT_EQ(p.f.event_names(A), (Names{"req_timeout"}));
  EXPECT_EQ(first<wire::Rej>(p.f, wire::AttrId::Rej).reason, wire::RejReason::Timeout);
}

TEST(AutoConsumer, AnswersLapWithApr) {
  Pair p;
  auto c = p.client.connect(p.f, A, B, kService);
  ASSERT_TRUE(c.has_value());
  p.f.run_until(1s);
  wire::PathInfo alt = make_connect_params(p.f, A, B, kService, 0, 0).primary;
  alt.sl = 3;
  ASSERT_TRUE(p.f.cm(A).load_alternate_path(p.f.now(), *c, alt).has_value());
  p.f.run_until(2s);
  EXPECT_EQ(p.f.event_names(A), (Names{"rep_received", "established", "apr_received"}));
  EXPECT_EQ(p.f.event_names(B),
            (Names{"req_received", "rtu_received", "established", "lap_received"}));
  EXPECT_EQ(first<wire::Apr>(p.f, wire::AttrId::Apr).ap_status, wire::ApStatus::Success);
  EXPECT_EQ(p.server.tally().apr_sent, 1u);
}

TEST(AutoConsumer, AnswersSidr) {
  AutoPolicy sp;
  sp.sidr_qkey = 0xabcd;
  Pair p(sp);
  SidrParams sr;
  sr.service_id = kService;
  sr.dest = p.f.address(B);
  ASSERT_TRUE(p.f.cm(A).sidr_request(p.f.now(), sr).has_value());
  EXPECT_EQ(p.f.run_until_idle(60s), Stop::Idle);
  ASSERT_EQ(p.f.event_names(A), (Names{"sidr_rep_received"}));
  const auto rep = std::get<ev::SidrRepReceived>(p.f.events_of(A)[0].event).rep;
  EXPECT_EQ(rep.status, wire::SidrStatus::Success);
  EXPECT_EQ(rep.qpn, 0x100u);
  EXPECT_EQ(rep.qkey, 0xabcdu);
}

TEST(AutoConsumer, QpnsRestartAfterReboot) {
  Fabric f(config(2, 1));
  AutoPolicy ap;
  ap.first_qpn = 0x500;
  AutoConsumer c(ap);
  EXPECT_EQ(c.allocate_qpn(f, A), 0x500u);
  EXPECT_EQ(c.allocate_qpn(f, A), 0x501u);
  EXPECT_EQ(c.allocate_qpn(f, B), 0x500u);  // per node
  f.reboot(A);
  EXPECT_EQ(c.allocate_qpn(f, A), 0x500u);
  EXPECT_EQ(c.allocate_qpn(f, B), 0x501u);
}

TEST(AutoConsumer, RefusedCallsAreCountedAndAnnotated) {
  Pair p;
  // Listening twice on the same service is refused by the CM.
  p.server.attach(p.f, B);
  EXPECT_EQ(p.server.tally().failed, 1u);
  EXPECT_NE(p.f.ladder().find("B  ** listen failed: "), std::string::npos) << p.f.ladder();
}

TEST(AutoConsumer, CustomHandlerSeesEveryEventInOrder) {
  Pair p;
  std::vector<std::string> seen;
  AutoConsumer inner = p.client;
  p.f.set_consumer(A, [&seen, inner](Fabric& f, NodeId n, const Event& e) mutable {
    seen.emplace_back(event_name(e));
    inner.handle(f, n, e);
  });
  ASSERT_TRUE(p.client.connect(p.f, A, B, kService).has_value());
  p.f.run_until_idle(60s);
  EXPECT_EQ(seen, (Names{"rep_received", "established"}));
  EXPECT_EQ(seen, p.f.event_names(A));
}

}  // namespace
}  // namespace ibcm::sim::test
