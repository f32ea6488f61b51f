// Hostile peers: a million forged REQs (and SIDR_REQs) with random comm IDs, CA GUIDs, QPNs and
// source addresses against a listener, at one per microsecond, while real clients connect. The
// half-open backlog (Config::max_half_open) bounds memory; when it is full the oldest half-open
// connection makes room (REJ 3 to its peer), so a forged REQ cannot hold a slot longer than the
// flood takes to turn the backlog over, while a real client needs one round trip.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "fixture/nodes.h"
#include "forged_mads.h"
#include "ibcm/engine/cm.h"
#include "ibcm/wire/mad.h"

namespace ibcm::test {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr uint32_t kForged = 100'000;  // the sanitizer build checks memory safety, not scale
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr uint32_t kForged = 100'000;
#else
constexpr uint32_t kForged = 1'000'000;
#endif
#else
constexpr uint32_t kForged = 1'000'000;
#endif
constexpr uint32_t kEvery = 1000;     // one real client per this many forged messages
constexpr uint32_t kPerHalfRtt = 10;  // forged messages arriving while a real one is in flight
constexpr uint64_t kService = 0x1234;

using fixture::addr_of;

Config config(uint32_t n) {
  return fixture::node_config(n, addr_of(n), n);
}

class Flood {
 public:
  explicit Flood(Config server_config) : server(server_config), client(config(2)) {
    EXPECT_TRUE(server.listen(kService).has_value());
  }

  // A REQ (or SIDR_REQ) from nobody in particular.
  void forge(bool sidr) {
    now += std::chrono::microseconds(1);
    Address from = addr_of(0x100000 | static_cast<uint32_t>(rng() & 0xFFFFF));
    from.gid[0] = 0xfe;  // not the real client's subnet
    const wire::MadBytes bytes = forged_mad(rng, kService, sidr);
    server.handle_mad(now, from, bytes);
    if (now.count() % 1'000'000 == 0) server.handle_timeout(now);
    serve();
    peak_connections = std::max(peak_connections, server.connection_count());
    peak_sidr = std::max(peak_sidr, server.sidr_count());
  }
  void forge_some(uint32_t n, bool sidr) {
    for (uint32_t i = 0; i < n; ++i) forge(sidr);
  }

  // The server application: accepts every REQ, answers every SIDR_REQ. What it sends to the real
  // client is queued for it; the rest goes to forged addresses and is lost.
  void serve() {
    route_server_output();
    while (auto e = server.poll_event()) {
      if (auto* x = std::get_if<ev::ReqReceived>(&*e)) {
        AcceptParams ap;
        ap.qpn = next_qpn++ & 0xFFFFFF;
        (void)server.accept(now, x->conn, ap);
      } else if (auto* x = std::get_if<ev::SidrReqReceived>(&*e)) {
        SidrReplyParams rp;
        rp.qpn = 0x42;
        rp.qkey = 0x1111;
        (void)server.sidr_reply(now, x->id, rp);
      } else if (std::holds_alternative<ev::Aborted>(*e)) {
        ++aborted;
      } else if (std::holds_alternative<ev::Established>(*e)) {
        ++server_established;
      }
    }
    route_server_output();  // what the calls above sent
  }
  void route_server_output() {
    while (auto t = server.poll_transmit()) {
      if (t->to.gid == client.config().local.gid)
        to_client.push_back(t->mad);
      else
        ++sent_to_forged;
    }
  }
  // Hands everything queued for the client to it, and everything it sends to the server.
  void to_and_fro(bool sidr) {
    for (auto& m : to_client) client.handle_mad(now, server.config().local, m);
    to_client.clear();
    while (auto e = client.poll_event()) {
      if (auto* x = std::get_if<ev::RepReceived>(&*e)) (void)client.send_rtu(now, x->conn);
      if (std::holds_alternative<ev::Established>(*e)) ++client_established;
      if (std::holds_alternative<ev::SidrRepReceived>(*e)) ++sidr_answered;
      if (auto* x = std::get_if<ev::RejReceived>(&*e)) last_rej = x->rej.reason;
    }
    forge_some(kPerHalfRtt, sidr);  // the flood goes on while the client's message travels
    while (auto t = client.poll_transmit()) server.handle_mad(now, client.config().local, t->mad);
    serve();
  }

  void real_connect() {
    ConnectParams p;
    p.service_id = kService;
    p.dest = server.config().local;
    p.qpn = next_client_qpn++;
    p.primary.local_gid = client.config().local.gid;
    p.primary.remote_gid = server.config().local.gid;
    p.primary.local_ack_timeout = 17;
    p.packet_life_time = 16;
    ASSERT_TRUE(client.connect(now, p).has_value());
    ++attempts;
    to_and_fro(false);  // REQ -> server; REP queued for the client
    to_and_fro(false);  // REP -> client; RTU -> server
    // The client's connection is done with; it disconnects later (not part of the flood).
  }
  void real_sidr() {
    SidrParams p;
    p.service_id = kService;
    p.dest = server.config().local;
    ASSERT_TRUE(client.sidr_request(now, p).has_value());
    ++attempts;
    to_and_fro(true);  // SIDR_REQ -> server; SIDR_REP queued
    to_and_fro(true);  // SIDR_REP -> client
  }

  Cm server, client;
  Time now{0};
  std::mt19937_64 rng{7};
  std::vector<wire::MadBytes> to_client;
  uint32_t next_qpn = 0x1000, next_client_qpn = 0x100;
  uint64_t sent_to_forged = 0, aborted = 0, attempts = 0, client_established = 0,
           server_established = 0, sidr_answered = 0;
  size_t peak_connections = 0, peak_sidr = 0;
  std::optional<wire::RejReason> last_rej;
};

TEST(Flood, MillionForgedReqsLeaveMemoryBoundedAndRealClientsConnect) {
  Config c = config(1);
  c.max_half_open = 1024;
  Flood f(c);
  for (uint32_t i = 0; i < kForged / kEvery; ++i) {
    f.forge_some(kEvery, false);
    f.real_connect();
  }
  // >= 99 % of the real clients got through; here, all of them.
  EXPECT_GE(f.client_established * 100, f.attempts * 99);
  EXPECT_EQ(f.server_established, f.client_established);
  // Memory: the half-open backlog plus the real connections, never more.
  EXPECT_LE(f.peak_connections, 1024 + f.server_established);
  EXPECT_LE(f.server.connection_count(), 1024 + f.server_established);
  EXPECT_GE(f.server.connection_count(), 1000 + f.server_established);  // the backlog is in use
  // Every forged REQ beyond the backlog evicted an older one: counted, reported, answered REJ 3.
  const auto& k = f.server.counters();
  EXPECT_GE(k.half_open_evicted, kForged - 1024);
  EXPECT_EQ(f.aborted, k.half_open_evicted);
  EXPECT_EQ(k.of(CountedMsg::Rej).tx, k.half_open_evicted);
}

TEST(Flood, RejectPolicyAnswersRej3AndStaysBounded) {
  Config c = config(1);
  c.max_half_open = 1024;
  c.half_open_full = Config::HalfOpenFull::Reject;
  Flood f(c);
  f.forge_some(20'000, false);
  EXPECT_EQ(f.server.connection_count(), 1024u);
  EXPECT_EQ(f.server.counters().drop(Drop::LimitReached), 20'000u - 1024);
  // A real client gets a clear answer: REJ 3 (no resources), not silence.
  f.real_connect();
  EXPECT_EQ(f.client_established, 0u);
  EXPECT_EQ(f.last_rej, wire::RejReason::NoResources);
}

TEST(Flood, MillionForgedSidrReqsLeaveMemoryBoundedAndRealRequestsAreAnswered) {
  Config c = config(1);
  c.max_sidr = 4096;
  Flood f(c);
  for (uint32_t i = 0; i < kForged / kEvery; ++i) {
    f.forge_some(kEvery, true);
    f.real_sidr();
  }
  EXPECT_GE(f.sidr_answered * 100, f.attempts * 99);
  EXPECT_LE(f.peak_sidr, 4096u);
  EXPECT_GE(f.server.counters().sidr_evicted, kForged - 4096);
  EXPECT_EQ(f.server.counters().drop(Drop::LimitReached), 0u);
}

}  // namespace
}  // namespace ibcm::test
