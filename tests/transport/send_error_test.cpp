// A send that cannot succeed (here: to an address of the other family, which fails the same way
// on every machine) is counted in tx_errors and kept in send_error() with where it was going, so
// the CLI can say why nothing happens instead of timing out in silence.
#include <gtest/gtest.h>

#include <cerrno>

#include "ibcm/transport/roce_transport.h"
#include "ibcm/transport/udp_transport.h"

using namespace ibcm;

namespace {

Transmit to(const std::string& endpoint) {
  Transmit t;
  auto ep = parse_endpoint(endpoint, 0);
  EXPECT_TRUE(ep.has_value());
  t.to = address_of(*ep);
  return t;
}

}  // namespace

TEST(SendError, UdpCountsFailuresAndKeepsTheLast) {
  auto t = UdpTransport::open(*parse_endpoint("127.0.0.1", 0));
  ASSERT_TRUE(t.has_value()) << t.error();
  UdpTransport& udp = **t;
  EXPECT_EQ(udp.send_error().count, 0u);
  Transmit batch[] = {to("[2001:db8::1]:7"), to("127.0.0.1:9"), to("[2001:db8::2]:8")};
  udp.send(batch);
  EXPECT_EQ(udp.counters().tx_packets, 1u) << "the one IPv4 peer";
  EXPECT_EQ(udp.counters().tx_errors, 2u);
  EXPECT_EQ(udp.send_error().count, 2u);
  EXPECT_EQ(udp.send_error().to, "[2001:db8::2]:8");
  EXPECT_NE(udp.send_error().code, 0);
  EXPECT_NE(udp.send_error().code, EAGAIN);
}

TEST(SendError, RoceCountsFailuresAndKeepsTheLast) {
  RoceOptions o;
  o.port = 0;  // any: it only sends
  auto t = RoceTransport::open(*parse_endpoint("::1", 0), o);
  ASSERT_TRUE(t.has_value()) << t.error();
  RoceTransport& roce = **t;
  Transmit batch[] = {to("192.0.2.1")};
  roce.send(batch);
  EXPECT_EQ(roce.counters().tx_packets, 0u);
  EXPECT_EQ(roce.counters().tx_errors, 1u);
  EXPECT_EQ(roce.send_error().count, 1u);
  EXPECT_EQ(roce.send_error().to, "192.0.2.1:4791");
}
