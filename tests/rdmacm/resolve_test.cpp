// Address and route resolution (rdma_resolve_addr(3), rdma_resolve_route(3)) on node A's served
// port: the events, the addresses and ports the ID shows, its path; and what is refused.
#include <gtest/gtest.h>

#include <cstring>

#include "ibcm/transport/ip_address.h"
#include "rdmacm/program_fixture.h"

namespace ibcm::rdmacm::test {
namespace {

using Resolve = ProgramTest;

TEST_F(Resolve, AddressThenRouteWithPortsAndPath) {
  rdma_cm_id* id = new_id();
  sockaddr_in dst = loopback(7001);
  ASSERT_EQ(rdma_resolve_addr(id, nullptr, as_sockaddr(dst), 2000), 0) << "errno " << errno;
  EventPtr e = expect_event(RDMA_CM_EVENT_ADDR_RESOLVED, id);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->listen_id, nullptr);
  e.reset();

  // The source is what the kernel's routing table picks for 127.0.0.1, with an ephemeral port
  // from the range the kernel's rdma_cm uses; the destination is as given.
  const auto* src = reinterpret_cast<const sockaddr_in*>(&id->route.addr.src_addr);
  const auto* to = reinterpret_cast<const sockaddr_in*>(&id->route.addr.dst_addr);
  EXPECT_EQ(src->sin_family, AF_INET);
  EXPECT_EQ(src->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  EXPECT_GE(ntohs(src->sin_port), 32768);
  EXPECT_LT(ntohs(src->sin_port), 61000);
  EXPECT_EQ(rdma_get_src_port(id), src->sin_port);
  EXPECT_EQ(to->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  EXPECT_EQ(rdma_get_dst_port(id), htons(7001));
  EXPECT_EQ(id->verbs, nullptr);  // the served device does not open here
  EXPECT_EQ(id->port_num, 1);
  EXPECT_EQ(id->route.num_paths, 0);  // no path before rdma_resolve_route

  ASSERT_EQ(rdma_resolve_route(id, 2000), 0) << "errno " << errno;
  EXPECT_TRUE(expect_event(RDMA_CM_EVENT_ROUTE_RESOLVED, id));
  ASSERT_EQ(id->route.num_paths, 1);
  ASSERT_NE(id->route.path_rec, nullptr);
  // RoCEv2: both GIDs are 127.0.0.1's (IPv4-mapped), the MTU the served port's.
  wire::Gid gid = gid_of(*parse_endpoint("127.0.0.1", 0));
  EXPECT_EQ(std::memcmp(id->route.path_rec->sgid.raw, gid.data(), 16), 0);
  EXPECT_EQ(std::memcmp(id->route.path_rec->dgid.raw, gid.data(), 16), 0);
  EXPECT_EQ(std::memcmp(id->route.addr.addr.ibaddr.sgid.raw, gid.data(), 16), 0);
  EXPECT_EQ(id->route.path_rec->mtu, IBV_MTU_1024);
  EXPECT_EQ(id->route.path_rec->hop_limit, 64);
  EXPECT_EQ(rdma_get_dst_port(id), htons(7001));
}

TEST_F(Resolve, RefusedOutOfOrderOrWithoutGid) {
  rdma_cm_id* id = new_id();
  // A route before an address: EINVAL, as the kernel's rdma_cm answers.
  EXPECT_EQ(rdma_resolve_route(id, 2000), -1);
  EXPECT_EQ(errno, EINVAL);
  // An address with no RoCEv2 GID on the served port cannot be bound.
  sockaddr_in elsewhere = loopback(7002);
  elsewhere.sin_addr.s_addr = htonl(0xC0000201);  // 192.0.2.1, TEST-NET-1
  EXPECT_EQ(rdma_bind_addr(id, as_sockaddr(elsewhere)), -1);
  EXPECT_EQ(errno, EADDRNOTAVAIL);
  EXPECT_FALSE(event_waiting(ch_));  // failed calls post nothing
}

// rdma_bind_addr then rdma_listen twice on one port: the second ID's bind fails EADDRINUSE.
TEST_F(Resolve, PortTakenOnce) {
  sockaddr_in addr = loopback(7003);
  rdma_cm_id* first = new_id();
  ASSERT_EQ(rdma_bind_addr(first, as_sockaddr(addr)), 0) << "errno " << errno;
  EXPECT_EQ(rdma_get_src_port(first), htons(7003));
  ASSERT_EQ(rdma_listen(first, 1), 0) << "errno " << errno;
  rdma_cm_id* second = new_id();
  EXPECT_EQ(rdma_bind_addr(second, as_sockaddr(addr)), -1);
  EXPECT_EQ(errno, EADDRINUSE);
}

}  // namespace
}  // namespace ibcm::rdmacm::test
