// The umad transport's sends on a RoCEv2 port through a DirectSender (RoCEv2 packets of its own,
// no umad write): which MADs go that way, with which address, and how a failure is counted.
#include <gtest/gtest.h>

#include <set>

#include "umad/ports.h"

using namespace ibcm;
using namespace ibcm::umad;
using namespace ibcm::umad::test;

namespace {

// Records what it is asked to send; the GIDs in `local` are this host's.
struct FakeDirect final : DirectSender {
  struct Log {
    std::vector<std::pair<MadAddress, wire::MadBytes>> sent;
    std::set<wire::Gid> local;
    int send_errno = 0;
  };
  explicit FakeDirect(std::shared_ptr<Log> log) : log(std::move(log)) {}
  int send(const MadAddress& to, const wire::MadBytes& mad) override {
    if (log->send_errno) return log->send_errno;
    log->sent.emplace_back(to, mad);
    return 0;
  }
  bool is_local(const wire::Gid& gid) override { return log->local.count(gid) != 0; }
  std::shared_ptr<Log> log;
};

struct Direct {
  FakeFabric fabric;
  std::shared_ptr<FakePortState> port;
  std::shared_ptr<FakeDirect::Log> log = std::make_shared<FakeDirect::Log>();
  std::unique_ptr<UmadTransport> t;
  explicit Direct(const LocalPort& local = roce_port(3)) {
    port = fabric.add_port(
        local.link_layer,
        local.link_layer == LinkLayer::Ethernet ? roce_gids(3) : std::vector<wire::Gid>{local.gid},
        local.lid);
    auto r = UmadTransport::open(open_fake(port), local, std::make_unique<FakeDirect>(log));
    EXPECT_TRUE(r.has_value());
    if (r) t = std::move(*r);
  }
  void send_to(const wire::Gid& gid, uint8_t attr = 0x10) {
    Transmit x{};
    x.to.gid = gid;
    x.mad[17] = attr;
    t->send(std::span(&x, 1));
  }
};

}  // namespace

TEST(UmadDirectSend, MadsToAnotherHostGoDirectNotThroughUmad) {
  Direct n;
  EXPECT_TRUE(n.t->sends_direct());
  n.send_to(roce_gids(2)[1], 0x13);
  ASSERT_EQ(n.log->sent.size(), 1u);
  EXPECT_TRUE(n.port->sent.empty());
  const MadAddress& a = n.log->sent[0].first;
  EXPECT_EQ(a.gid, roce_gids(2)[1]);
  EXPECT_EQ(a.qpn, 1u);
  EXPECT_EQ(a.hop_limit, 64);
  EXPECT_EQ(n.log->sent[0].second[17], 0x13);
  EXPECT_EQ(n.t->counters().tx_packets, 1u);
}

TEST(UmadDirectSend, MadsToThisHostAreWrittenToUmad) {
  Direct n;
  n.log->local.insert(roce_gids(3)[1]);
  n.send_to(roce_gids(3)[1]);
  EXPECT_TRUE(n.log->sent.empty());
  EXPECT_EQ(n.port->sent.size(), 1u);
  EXPECT_EQ(n.t->counters().tx_packets, 1u);
}

TEST(UmadDirectSend, AnAnswerGoesTheWayThePeersMadCame) {
  Direct n;
  UmadMad m = mad_from(roce_gids(2)[1]);
  m.addr.hop_limit = 9;
  m.addr.traffic_class = 0x48;
  n.port->push(m);
  std::array<Received, 1> in;
  ASSERT_EQ(n.t->receive(in), 1u);
  Transmit reply{in[0].from, in[0].mad};
  n.t->send(std::span(&reply, 1));
  ASSERT_EQ(n.log->sent.size(), 1u);
  EXPECT_EQ(n.log->sent[0].first.hop_limit, 9);
  EXPECT_EQ(n.log->sent[0].first.traffic_class, 0x48);
}

TEST(UmadDirectSend, AFailedDirectSendIsCountedAsASendError) {
  Direct n;
  n.log->send_errno = ENETUNREACH;
  n.send_to(roce_gids(2)[1]);
  EXPECT_EQ(n.t->counters().tx_errors, 1u);
  EXPECT_EQ(n.t->counters().tx_packets, 0u);
  EXPECT_EQ(n.t->send_error().code, ENETUNREACH);
  EXPECT_TRUE(n.port->sent.empty());  // not written to umad behind the CM's back: it retries
}

TEST(UmadDirectSend, AnInfiniBandPortAlwaysWritesToUmad) {
  Direct n(ib_port(3, 0x13));
  EXPECT_FALSE(n.t->sends_direct());
  Transmit x{};
  x.to.gid = ib_gid(2);
  x.to.lid = 0x12;
  n.t->send(std::span(&x, 1));
  EXPECT_TRUE(n.log->sent.empty());
  EXPECT_EQ(n.port->sent.size(), 1u);
}
