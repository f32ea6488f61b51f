// librdmacm's convenience layer and ID options: rdma_getaddrinfo(3) and rdma_create_ep(3)
// (synchronous IDs, resolved or bound), rdma_get_devices(3), rdma_migrate_id(3) and
// rdma_set_option(3).
#include <gtest/gtest.h>

#include "rdmacm/program_fixture.h"

namespace ibcm::rdmacm::test {
namespace {

struct FreeAddrinfo {
  void operator()(rdma_addrinfo* a) const { rdma_freeaddrinfo(a); }
};
using AddrinfoPtr = std::unique_ptr<rdma_addrinfo, FreeAddrinfo>;

struct DestroyEp {
  void operator()(rdma_cm_id* id) const { rdma_destroy_ep(id); }
};
using EpPtr = std::unique_ptr<rdma_cm_id, DestroyEp>;

struct DestroyChannel {
  void operator()(rdma_event_channel* ch) const { rdma_destroy_event_channel(ch); }
};

AddrinfoPtr addrinfo(const char* node, const char* service, int flags) {
  rdma_addrinfo hints{};
  hints.ai_flags = flags;
  hints.ai_port_space = RDMA_PS_TCP;
  rdma_addrinfo* res = nullptr;
  EXPECT_EQ(rdma_getaddrinfo(node, service, &hints, &res), 0) << "errno " << errno;
  return AddrinfoPtr(res);
}

using Endpoint = ProgramTest;

// An active endpoint: rdma_create_ep resolves the address and the route before it returns; a
// synchronous rdma_connect without a QP then returns on the REP, and rdma_establish completes it.
TEST_F(Endpoint, ActiveEndpointConnects) {
  AddrinfoPtr res = addrinfo("127.0.0.1", "7851", 0);
  ASSERT_TRUE(res);
  ASSERT_NE(res->ai_dst_addr, nullptr);
  EXPECT_EQ(res->ai_src_addr, nullptr);
  EXPECT_EQ(res->ai_qp_type, IBV_QPT_RC);
  EXPECT_EQ(reinterpret_cast<sockaddr_in*>(res->ai_dst_addr)->sin_port, htons(7851));

  PeerProcess peer(nodes().b->socket());
  ASSERT_TRUE(peer.ready());
  ASSERT_EQ(peer.ask("listen 7851"), "ok");
  rdma_cm_id* raw = nullptr;
  ASSERT_EQ(rdma_create_ep(&raw, res.get(), nullptr, nullptr), 0) << "errno " << errno;
  EpPtr ep(raw);
  EXPECT_EQ(ep->route.num_paths, 1);
  EXPECT_EQ(rdma_get_dst_port(ep.get()), htons(7851));
  ASSERT_NE(ep->event, nullptr);
  EXPECT_EQ(ep->event->event, RDMA_CM_EVENT_ROUTE_RESOLVED);

  ASSERT_TRUE(peer.send("event"));
  ASSERT_TRUE(peer.send("accept 0x2851 -"));
  rdma_conn_param p = no_qp(0x1851, "ep");
  ASSERT_EQ(rdma_connect(ep.get(), &p), 0) << "errno " << errno;
  EXPECT_EQ(ep->event->event, RDMA_CM_EVENT_CONNECT_RESPONSE);
  EXPECT_EQ(event_name(peer.line().value_or("")), "RDMA_CM_EVENT_CONNECT_REQUEST");
  EXPECT_EQ(peer.line(), "ok");
  ASSERT_EQ(rdma_establish(ep.get()), 0) << "errno " << errno;
  EXPECT_EQ(event_name(peer.ask("event")), "RDMA_CM_EVENT_ESTABLISHED");
}

// A passive endpoint: RAI_PASSIVE gives a source address, rdma_create_ep binds it.
TEST_F(Endpoint, PassiveEndpointBindsAndListens) {
  AddrinfoPtr res = addrinfo("127.0.0.1", "7852", RAI_PASSIVE);
  ASSERT_TRUE(res);
  ASSERT_NE(res->ai_src_addr, nullptr);
  EXPECT_EQ(res->ai_dst_addr, nullptr);
  rdma_cm_id* raw = nullptr;
  ASSERT_EQ(rdma_create_ep(&raw, res.get(), nullptr, nullptr), 0) << "errno " << errno;
  EpPtr ep(raw);
  EXPECT_EQ(rdma_get_src_port(ep.get()), htons(7852));
  EXPECT_EQ(rdma_listen(ep.get(), 2), 0) << "errno " << errno;
}

// rdma_get_devices(3): a NULL-terminated list of as many contexts as it says (none open here but
// whatever RDMA devices the machine has).
TEST_F(Endpoint, DeviceListIsTerminated) {
  int n = -1;
  ibv_context** list = rdma_get_devices(&n);
  ASSERT_NE(list, nullptr);
  ASSERT_GE(n, 0);
  EXPECT_EQ(list[n], nullptr);
  rdma_free_devices(list);
}

// rdma_migrate_id(3): the ID's events come on the new channel from then on, none on the old.
TEST_F(Endpoint, MigratedIdReportsOnItsNewChannel) {
  std::unique_ptr<rdma_event_channel, DestroyChannel> owned(rdma_create_event_channel());
  rdma_event_channel* other = owned.get();
  ASSERT_NE(other, nullptr);
  rdma_cm_id* id = new_id();
  ASSERT_EQ(rdma_migrate_id(id, other), 0) << "errno " << errno;
  EXPECT_EQ(id->channel, other);
  sockaddr_in dst = loopback(7853);
  ASSERT_EQ(rdma_resolve_addr(id, nullptr, as_sockaddr(dst), 2000), 0) << "errno " << errno;
  EventPtr e = next_event(other);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->event, RDMA_CM_EVENT_ADDR_RESOLVED);
  EXPECT_EQ(e->id, id);
  e.reset();
  EXPECT_FALSE(event_waiting(ch_));
  ASSERT_EQ(destroy(id), 0);  // before its channel
}

// rdma_set_option(3): the type of service reaches the route's traffic class; the options the
// daemon decides for itself are accepted; paths from the program are not offered (ENOSYS).
TEST_F(Endpoint, Options) {
  rdma_cm_id* id = new_id();
  uint8_t tos = 32;
  ASSERT_EQ(rdma_set_option(id, RDMA_OPTION_ID, RDMA_OPTION_ID_TOS, &tos, sizeof tos), 0)
      << "errno " << errno;
  int one = 1;
  EXPECT_EQ(rdma_set_option(id, RDMA_OPTION_ID, RDMA_OPTION_ID_REUSEADDR, &one, sizeof one), 0);
  ASSERT_NO_FATAL_FAILURE(resolve(id, 7854));
  ASSERT_NE(id->route.path_rec, nullptr);
  EXPECT_EQ(id->route.path_rec->traffic_class, 32);
  ibv_path_data path{};
  errno = 0;
  EXPECT_EQ(rdma_set_option(id, RDMA_OPTION_IB, RDMA_OPTION_IB_PATH, &path, sizeof path), -1);
  EXPECT_EQ(errno, ENOSYS);
}

}  // namespace
}  // namespace ibcm::rdmacm::test
