// The umad transport's receive and send over a fake port: what is counted and dropped, how many
// MADs one call takes, the address each answer is sent with.
#include <gtest/gtest.h>
#include <poll.h>

#include "umad/ports.h"

using namespace ibcm;
using namespace ibcm::umad;
using namespace ibcm::umad::test;

namespace {

struct One {
  FakeFabric fabric;
  std::shared_ptr<FakePortState> port = fabric.add_port(LinkLayer::Ethernet, roce_gids(3));
  std::unique_ptr<UmadTransport> t = open_on(port, roce_port(3));
  std::array<Received, 8> out;
  size_t receive() { return t->receive(out); }
};

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

}  // namespace

TEST(UmadIo, RegistersForTheCmRequestMethods) {
  One n;
  ASSERT_TRUE(n.port->registered);
  EXPECT_EQ(n.port->mgmt_class, 0x07);
  EXPECT_EQ(n.port->class_version, 2);
  EXPECT_EQ(n.port->methods, (std::vector<uint8_t>{0x01, 0x02, 0x03}));
  EXPECT_EQ(n.t->name(), "umad rxe0:1");
}

TEST(UmadIo, TakesEveryReadyMadUpToTheBatchSize) {
  One n;
  for (int i = 0; i < 11; ++i) n.port->push(mad_from(roce_gids(2)[1]));
  EXPECT_TRUE(readable(n.t->fd()));
  EXPECT_EQ(n.receive(), 8u);
  EXPECT_EQ(n.out[0].from.gid, roce_gids(2)[1]);
  EXPECT_EQ(n.out[0].length, 256);
  EXPECT_EQ(n.out[0].mad[17], 0x10);
  EXPECT_EQ(n.receive(), 3u);
  EXPECT_EQ(n.receive(), 0u);
  EXPECT_FALSE(readable(n.t->fd()));
  EXPECT_EQ(n.t->counters().rx_packets, 11u);
  EXPECT_EQ(n.t->counters().rx_dropped, 0u);
}

TEST(UmadIo, SendReportsAreCountedAndDroppedNeverPassedOn) {
  One n;
  UmadMad report = mad_from(roce_gids(2)[1]);
  report.status = ETIMEDOUT;  // what ib_umad queues when a send waited for a response in vain
  report.length = 24;
  n.port->push(report);
  n.port->push(mad_from(roce_gids(2)[1]));
  EXPECT_EQ(n.receive(), 1u);  // only the MAD
  EXPECT_EQ(n.t->counters().rx_mad_status, 1u);
  EXPECT_EQ(n.t->counters().rx_dropped, 1u);
  EXPECT_EQ(n.t->counters().rx_packets, 2u);
}

TEST(UmadIo, MalformedLengthsAreCountedAndDropped) {
  One n;
  for (int32_t length : {-8, 0, 24, 255, 257, 2048}) {
    UmadMad m = mad_from(roce_gids(2)[1]);
    m.length = length;
    n.port->push(m);
  }
  EXPECT_EQ(n.receive(), 0u);
  EXPECT_EQ(n.t->counters().rx_malformed, 6u);
  EXPECT_EQ(n.t->counters().rx_dropped, 6u);
}

TEST(UmadIo, MadsFromAnotherQpOrPartitionAreDropped) {
  FakeFabric fabric;
  auto port = fabric.add_port(LinkLayer::InfiniBand, {ib_gid(3)}, 0x13);
  LocalPort local = ib_port(3, 0x13);
  local.pkeys = {0xFFFF, 0x0002};
  auto t = open_on(port, local);
  UmadMad other_qp = mad_from(ib_gid(2));
  other_qp.addr.qpn = 0x1234;
  UmadMad limited = mad_from(ib_gid(2));
  limited.addr.pkey_index = 1;  // 0x0002: not our partition
  port->push(other_qp);
  port->push(limited);
  std::array<Received, 4> out;
  EXPECT_EQ(t->receive(out), 0u);
  EXPECT_EQ(t->counters().rx_other_qp, 1u);
  EXPECT_EQ(t->counters().rx_bad_pkey, 1u);
  EXPECT_EQ(t->counters().rx_dropped, 2u);
}

TEST(UmadIo, AnswersEachPeerTheWayItsLastMadCame) {
  One n;
  UmadMad m = mad_from(roce_gids(2)[1]);
  m.addr.gid_index = 0;
  m.addr.hop_limit = 9;
  m.addr.flow_label = 0xabcde;
  m.addr.traffic_class = 0x48;
  n.port->push(m);
  ASSERT_EQ(n.receive(), 1u);
  Transmit reply{n.out[0].from, n.out[0].mad};
  Transmit other{};
  other.to.gid = roce_gids(4)[1];  // a peer that has sent nothing
  n.t->send(std::array{reply, other});
  ASSERT_EQ(n.port->sent.size(), 2u);
  const MadAddress& a = n.port->sent[0].addr;
  EXPECT_EQ(a.gid, roce_gids(2)[1]);
  EXPECT_EQ(a.gid_index, 0);
  EXPECT_EQ(a.hop_limit, 9);
  EXPECT_EQ(a.flow_label, 0xabcdeu);
  EXPECT_EQ(a.traffic_class, 0x48);
  const MadAddress& b = n.port->sent[1].addr;
  EXPECT_EQ(b.gid_index, 1);
  EXPECT_EQ(b.hop_limit, 64);
  EXPECT_EQ(b.flow_label, 0u);
  EXPECT_EQ(n.t->counters().tx_packets, 2u);
}

TEST(UmadIo, SendsWithoutMadLayerTimeoutOrRetries) {
  One n;
  Transmit t{};
  t.to.gid = roce_gids(2)[1];
  n.t->send(std::span(&t, 1));
  ASSERT_EQ(n.port->sent.size(), 1u);  // the fake refuses a send with either set
  EXPECT_EQ(n.port->sent[0].timeout_ms, 0u);
  EXPECT_EQ(n.port->sent[0].retries, 0u);
  EXPECT_EQ(n.port->sent[0].agent_id, n.t->agent_id());
}

TEST(UmadIo, FailedSendsAreCountedAndLastingOnesKept) {
  One n;
  Transmit t{};
  t.to.gid = roce_gids(2)[1];
  n.port->send_errno = ENOBUFS;  // passes: the CM's retries cover it
  n.t->send(std::span(&t, 1));
  EXPECT_EQ(n.t->counters().tx_errors, 1u);
  EXPECT_EQ(n.t->send_error().count, 0u);
  n.port->send_errno = ENETUNREACH;
  n.t->send(std::span(&t, 1));
  EXPECT_EQ(n.t->counters().tx_errors, 2u);
  EXPECT_EQ(n.t->send_error().code, ENETUNREACH);
  EXPECT_EQ(n.t->send_error().to, "198.51.100.2:0");
  EXPECT_EQ(n.t->counters().tx_packets, 0u);
}

TEST(UmadIo, ARequestRefusedAsADuplicateTidGoesAgainUnderItsOwnTid) {
  One n;
  n.port->hold_sends = true;  // the first send is still in flight when the second is written
  Transmit mra{}, rep{};
  mra.to.gid = rep.to.gid = roce_gids(2)[1];
  mra.mad[3] = rep.mad[3] = 0x03;  // Send
  set_tid(mra.mad, 0x0000000012345678);
  set_tid(rep.mad, 0x0000000012345678);  // both echo the REQ's TID
  n.t->send(std::array{mra, rep});
  EXPECT_EQ(n.port->send_codes, (std::vector<int>{0, EINVAL, 0}));
  ASSERT_EQ(n.port->sent.size(), 2u);
  EXPECT_EQ(tid_of(n.port->sent[0].mad) & 0xFFFFFFFF, 0x12345678u);
  EXPECT_NE(tid_of(n.port->sent[1].mad) & 0xFFFFFFFF, 0x12345678u);
  EXPECT_EQ(n.t->counters().tx_packets, 2u);
  EXPECT_EQ(n.t->counters().tx_errors, 0u);
}

TEST(UmadIo, LocalAddressIsTheSendingGid) {
  One n;
  Address a = n.t->local();
  EXPECT_EQ(a.gid, roce_gids(3)[1]);
  EXPECT_EQ(a.lid, 0xFFFF);
  EXPECT_EQ(a.pkey, 0xFFFF);
  FakeFabric fabric;
  auto ib = open_on(fabric.add_port(LinkLayer::InfiniBand, {ib_gid(3)}, 0x13), ib_port(3, 0x13));
  EXPECT_EQ(ib->local().lid, 0x13);
  EXPECT_EQ(ib->local().gid, ib_gid(3));
}

TEST(UmadIo, InfiniBandPeersWithoutGrhAreNamedByALearnedOrPlaceholderGid) {
  FakeFabric fabric;
  auto port = fabric.add_port(LinkLayer::InfiniBand, {ib_gid(3)}, 0x13);
  auto t = open_on(port, ib_port(3, 0x13));
  UmadMad m = mad_from(ib_gid(2));
  m.addr.grh_present = false;
  m.addr.lid = 0x12;
  port->push(m);
  std::array<Received, 2> out;
  ASSERT_EQ(t->receive(out), 1u);
  wire::Gid placeholder{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12};
  EXPECT_EQ(out[0].from.gid, placeholder);  // the same for every MAD from LID 0x12
  EXPECT_EQ(out[0].from.lid, 0x12);
  Transmit to_peer{};
  to_peer.to.gid = ib_gid(2);  // the consumer names the port by its GID: now it is known
  to_peer.to.lid = 0x12;
  t->send(std::span(&to_peer, 1));
  port->push(m);
  ASSERT_EQ(t->receive(out), 1u);
  EXPECT_EQ(out[0].from.gid, ib_gid(2));
}
