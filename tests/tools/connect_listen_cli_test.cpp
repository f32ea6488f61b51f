// `ibcm connect`, `ibcm listen` and `ibcm sidr` as a user runs them, over MAD-over-UDP on
// 127.0.0.1 (no privileges): the timer flags of connect (--cm-response-timeout, --max-cm-retries)
// reach the REQ and set the retry interval; listen --hold makes the passive side disconnect;
// listen --reject, connect --psn, --no-disconnect, --retries and --seed do what they say; --stats
// names every counter; an unreachable peer is reported at once.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "ibcm/transport/transport.h"
#include "tools/cli_process.h"
#include "tools/cli_run.h"

using ibcm::test::CliProcess;
using ibcm::test::run;
using ibcm::test::run_shell;
using namespace std::chrono_literals;

namespace {

// UDP ports for this process (ctest runs test binaries in parallel): 20 from here.
int port_base() {
  return 20000 + static_cast<int>(::getpid() % 2000) * 20;
}

std::string udp(int port) {
  return "--transport udp --local 127.0.0.1:" + std::to_string(port);
}

// The "event" names of the JSON lines, in order, and the "t" of each.
struct Events {
  std::vector<std::string> names;
  std::vector<double> times;
  std::vector<std::string> lines;
};

std::string field(const std::string& line, const std::string& key) {
  std::string k = "\"" + key + "\":";
  size_t i = line.find(k);
  if (i == std::string::npos) return "";
  i += k.size();
  size_t j = i;
  if (line[j] == '"') {
    j = line.find('"', i + 1);
    return line.substr(i + 1, j - i - 1);
  }
  while (j < line.size() && line[j] != ',' && line[j] != '}') ++j;
  return line.substr(i, j - i);
}

Events events(const std::vector<std::string>& lines) {
  Events e;
  for (const auto& l : lines) {
    if (l.empty() || l[0] != '{') continue;
    std::string name = field(l, "event");
    if (name == "stats") continue;
    e.names.push_back(name);
    e.times.push_back(std::atof(field(l, "t").c_str()));
    e.lines.push_back(l);
  }
  return e;
}

double time_of(const Events& e, const std::string& name) {
  for (size_t i = 0; i < e.names.size(); ++i)
    if (e.names[i] == name) return e.times[i];
  return -1;
}

// The first line of that event ("" if none).
std::string line_of(const Events& e, const std::string& name) {
  for (size_t i = 0; i < e.names.size(); ++i)
    if (e.names[i] == name) return e.lines[i];
  return "";
}

// The JSON stats line ("" if none).
std::string stats_of(const std::vector<std::string>& lines) {
  for (const auto& l : lines)
    if (field(l, "event") == "stats") return l;
  return "";
}

// A listener's output to the end. Once its --count is reached it stays while a peer may still
// retry a DREQ or REQ it answered (listen_linger_cli_test.cpp); the peers here have exited by
// then, so a listener that lingers is stopped.
ibcm::test::CliRun finish_listener(CliProcess& p) {
  return p.wait_for("lingering", 30s) ? p.terminate() : p.finish();
}

// A listener in the background, once it has said it is listening.
struct Listener {
  CliProcess p;
  explicit Listener(const std::string& args) : p("listen " + args + " --json") {
    ready = p.started() && p.wait_for("\"listening\"", 10s);
  }
  ibcm::test::CliRun finish() { return finish_listener(p); }
  bool ready = false;
};

class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/ibcm-cli-test-XXXXXX";
    if (mkdtemp(name)) path_ = name;
  }
  ~TempDir() {
    if (!path_.empty()) run_shell("rm -rf '" + path_ + "'");
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A listener on port p (ending after `count` connections) holding a connection from QPN qpn and
// CA GUID 0x9999 that `connect` left without a disconnect, as if its process had died; `connect`
// comes back from the same QPN and CA GUID.
struct StaleAtListener {
  StaleAtListener(int p, const std::string& qpn, int count)
      : connect("connect " + udp(p + 1) + " --remote 127.0.0.1:" + std::to_string(p) + " --qpn " +
                qpn + " --ca-guid 0x9999 --hold 0 --timeout 30 --json"),
        listener(udp(p) + " --count " + std::to_string(count) + " --timeout 30") {
    if (listener.ready) first = run(connect + " --no-disconnect");
  }
  std::string connect;
  Listener listener;
  ibcm::test::CliRun first;
};

}  // namespace

TEST(ConnectCli, TimerFlagsGoIntoTheReqAndSetTheRetryInterval) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  int p = port_base();
  // Nobody listens on the remote port: 1 + 2 REQs, one retry interval apart, then req_timeout.
  std::string pcap = tmp.path() + "/req.pcap";
  auto r = run("connect --transport udp --local 127.0.0.1:" + std::to_string(p) +
               " --remote 127.0.0.1:" + std::to_string(p + 1) +
               " --cm-response-timeout 14 --max-cm-retries 2 --timeout 20 --json --stats --pcap " +
               pcap);
  EXPECT_EQ(r.exit_code, 1);
  Events e = events(r.lines);
  ASSERT_EQ(e.names, std::vector<std::string>{"req_timeout"});
  // Interval: 2 x PacketLifeTime (16) + CM response timeout (14), 4.096 us x 2^t each.
  double interval = 2 * 4.096e-6 * (1 << 16) + 4.096e-6 * (1 << 14);
  EXPECT_GE(e.times[0], 3 * interval - 0.002);
  EXPECT_LT(e.times[0], 3 * interval + 0.5);
  bool stats = false;
  for (const auto& l : r.lines)
    if (field(l, "event") == "stats") {
      stats = true;
      EXPECT_EQ(field(l, "cm_tx_msgs.req"), "3") << l;
      EXPECT_EQ(field(l, "cm_tx_retries.req"), "2") << l;
      // Every transport counter, by name.
      for (const auto& f : ibcm::kTransportCounterFields)
        EXPECT_NE(field(l, "transport." + std::string(f.name)), "") << f.name << " in " << l;
      EXPECT_EQ(field(l, "transport.tx_packets"), "4") << "3 REQs, the REJ 4 of the timeout: " << l;
      // The timed-out connection is gone (a REJ, no TIMEWAIT) and left no timer.
      EXPECT_EQ(field(l, "cm.connections_live"), "0") << l;
      EXPECT_EQ(field(l, "cm.timers_armed"), "0") << l;
    }
  EXPECT_TRUE(stats);

  auto d = run("decode --json " + pcap);
  ASSERT_EQ(d.exit_code, 0);
  int reqs = 0;
  for (const auto& l : d.lines) {
    if (field(l, "message") != "REQ") continue;
    ++reqs;
    EXPECT_EQ(field(l, "RemoteCMResponseTimeout"), "14") << l;
    EXPECT_EQ(field(l, "LocalCMResponseTimeout"), "14") << l;
    EXPECT_EQ(field(l, "MaxCMRetries"), "2") << l;
  }
  EXPECT_EQ(reqs, 3);
}

TEST(ConnectCli, APcapThatCannotBeWrittenIsReported) {
  int p = port_base();
  // /dev/full opens, but the capture's file header cannot be written: a setup error, said once.
  auto r = run("connect --transport udp --local 127.0.0.1:" + std::to_string(p) +
               " --remote 127.0.0.1:" + std::to_string(p + 1) +
               " --cm-response-timeout 8 --max-cm-retries 1 --timeout 20 --pcap /dev/full 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  int reports = 0;
  for (const auto& l : r.lines) {
    reports += l.find("cannot write --pcap") != std::string::npos;
    EXPECT_EQ(l.find("\"event\""), std::string::npos) << "nothing ran: " << l;
  }
  EXPECT_EQ(reports, 1);
}

TEST(ConnectCli, TimerFlagsAreRangeChecked) {
  EXPECT_NE(run("connect --transport udp --local 127.0.0.1:1 --remote 127.0.0.1:2 "
                "--cm-response-timeout 32 2>/dev/null")
                .exit_code,
            0);
  EXPECT_NE(run("connect --transport udp --local 127.0.0.1:1 --remote 127.0.0.1:2 "
                "--max-cm-retries 16 2>/dev/null")
                .exit_code,
            0);
}

TEST(ListenCli, HoldMakesTheListenerDisconnect) {
  int p = port_base() + 2;
  // The listener disconnects 0.3 s after ESTABLISHED; connect would hold 10 s.
  Listener listener(udp(p) + " --count 1 --hold 0.3 --timeout 20");
  ASSERT_TRUE(listener.ready);
  auto c = run("connect " + udp(p + 1) + " --remote 127.0.0.1:" + std::to_string(p) +
               " --psn 0x123456 --hold 10 --timeout 20 --cm-response-timeout 12 --json");
  auto l = listener.finish();
  EXPECT_EQ(c.exit_code, 0);
  EXPECT_EQ(l.exit_code, 0);
  Events ce = events(c.lines), le = events(l.lines);
  EXPECT_EQ(ce.names, (std::vector<std::string>{"rep_received", "established", "dreq_received",
                                                "timewait_exit", "connect_summary"}));
  EXPECT_EQ(le.names, (std::vector<std::string>{"listening", "req_received", "rtu_received",
                                                "established", "drep_received", "timewait_exit"}));
  double held = time_of(ce, "dreq_received") - time_of(ce, "established");
  EXPECT_GE(held, 0.3 - 0.01);
  EXPECT_LT(held, 1.0);
  // --psn is the REQ's starting PSN; each side names the other's comm ID as remote_comm_id.
  std::string req = line_of(le, "req_received"), rep = line_of(ce, "rep_received");
  EXPECT_EQ(field(req, "starting_psn"), std::to_string(0x123456)) << req;
  EXPECT_EQ(field(req, "remote_comm_id"), field(rep, "local_comm_id"));
  EXPECT_EQ(field(rep, "remote_comm_id"), field(req, "local_comm_id"));
  EXPECT_NE(field(req, "local_comm_id"), "");
}

TEST(ListenCli, RejectSendsThatReason) {
  int p = port_base() + 4;
  std::string remote = " --remote 127.0.0.1:" + std::to_string(p);
  for (std::string reason : {"28", "InvalidServiceId"}) {
    SCOPED_TRACE(reason);
    Listener listener(udp(p) + " --count 1 --timeout 20 --reject " + reason);
    ASSERT_TRUE(listener.ready);
    auto c = run("connect " + udp(p + 1) + remote + " --timeout 20 --json");
    auto l = listener.finish();
    EXPECT_EQ(c.exit_code, 1) << "a rejected connect fails";
    EXPECT_EQ(l.exit_code, 0);
    Events ce = events(c.lines), le = events(l.lines);
    ASSERT_EQ(ce.names, std::vector<std::string>{"rej_received"});
    std::string rej = ce.lines[0], req = line_of(le, "req_received");
    EXPECT_EQ(field(rej, "reason"), reason == "28" ? "28" : "8") << rej;
    EXPECT_EQ(field(rej, "reason_name"), reason == "28" ? "ConsumerDefined" : reason) << rej;
    EXPECT_EQ(field(rej, "remote_comm_id"), field(req, "local_comm_id"));
  }
}

TEST(ListenCli, RejectReasonIsRangeChecked) {
  for (std::string bad : {"0", "34", "36", "65564", "NoSuchReason", "-1"}) {
    auto r = run("listen " + udp(1) + " --reject " + bad + " 2>&1");
    EXPECT_EQ(r.exit_code, 2) << bad;
    ASSERT_EQ(r.lines.size(), 1u) << bad;
    EXPECT_NE(r.lines[0].find("ibcm listen: bad --reject '" + bad + "'"), std::string::npos)
        << r.lines[0];
  }
}

TEST(ConnectCli, NoDisconnectSendsNothingAfterTheHold) {
  int p = port_base() + 6;
  // The listener waits 3 s, long enough to see anything sent before connect exited.
  Listener listener(udp(p) + " --timeout 3 --stats");
  ASSERT_TRUE(listener.ready);
  auto c = run("connect " + udp(p + 1) + " --remote 127.0.0.1:" + std::to_string(p) +
               " --hold 0.2 --no-disconnect --timeout 20 --json --stats");
  auto l = listener.finish();
  EXPECT_EQ(c.exit_code, 0);
  Events ce = events(c.lines), le = events(l.lines);
  EXPECT_EQ(ce.names, (std::vector<std::string>{"rep_received", "established",
                                                "exit_without_disconnect", "connect_summary"}));
  EXPECT_GE(time_of(ce, "exit_without_disconnect") - time_of(ce, "established"), 0.2 - 0.01);
  std::string cs = stats_of(c.lines);
  EXPECT_EQ(field(cs, "transport.tx_packets"), "2") << "REQ and RTU only: " << cs;
  EXPECT_EQ(field(cs, "cm_tx_msgs.dreq"), "0") << cs;
  EXPECT_EQ(field(cs, "cm.connections_live"), "1") << "held when it left: " << cs;
  std::string summary = line_of(ce, "connect_summary");
  EXPECT_EQ(field(summary, "connections"), "1") << summary;
  EXPECT_EQ(field(summary, "established"), "1") << summary;
  EXPECT_EQ(le.names, (std::vector<std::string>{"listening", "req_received", "rtu_received",
                                                "established", "timeout"}));
  std::string ls = stats_of(l.lines);
  EXPECT_EQ(field(ls, "cm_rx_msgs.dreq"), "0") << ls;
  EXPECT_EQ(field(ls, "transport.rx_packets"), "2") << ls;
}

TEST(ConnectCli, RetriesAfterAStaleConnectionReject) {
  int p = port_base() + 8;
  // The stale connection's TIMEWAIT and the new one's end it.
  StaleAtListener at(p, "0x777", 2);
  ASSERT_TRUE(at.listener.ready);
  const std::string& connect = at.connect;
  Listener& listener = at.listener;
  const auto& first = at.first;
  ASSERT_EQ(first.exit_code, 0);
  auto again = run(connect + " --retries 1");
  auto l = listener.finish();
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(l.exit_code, 0);
  Events ae = events(again.lines), le = events(l.lines);
  EXPECT_EQ(ae.names, (std::vector<std::string>{"rej_received", "timewait_exit", "rep_received",
                                                "established", "drep_received", "timewait_exit",
                                                "connect_summary"}));
  EXPECT_EQ(field(line_of(ae, "rej_received"), "reason"), "10");
  std::string stale = line_of(le, "stale_connection");
  EXPECT_EQ(field(stale, "remote_qpn"), std::to_string(0x777)) << stale;
  EXPECT_EQ(field(stale, "remote_ca_guid"), "0x0000000000009999") << stale;  // IDs are hex
  // The retry is a new connection: its comm ID is neither the first's nor the rejected one's.
  std::string rejected = field(line_of(ae, "rej_received"), "local_comm_id");
  std::string retried = field(line_of(ae, "rep_received"), "local_comm_id");
  EXPECT_NE(rejected, retried);
  EXPECT_NE(field(line_of(events(first.lines), "established"), "local_comm_id"), retried);
}

TEST(SidrCli, ResolvesAServiceOfListen) {
  int p = port_base() + 10;
  Listener listener(udp(p) + " --qpn 0x4242 --timeout 20");
  ASSERT_TRUE(listener.ready);
  auto r = run("sidr " + udp(p + 1) + " --remote 127.0.0.1:" + std::to_string(p) +
               " --port 7174 --json");
  ASSERT_TRUE(listener.p.wait_for("sidr_req_received", 10s));
  auto l = listener.p.terminate();
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(l.exit_code, 0) << "interrupted";
  Events e = events(r.lines);
  ASSERT_EQ(e.names, std::vector<std::string>{"sidr_rep_received"});
  EXPECT_EQ(field(e.lines[0], "status_name"), "Success") << e.lines[0];
  EXPECT_EQ(field(e.lines[0], "qpn"), std::to_string(0x4242)) << e.lines[0];
  EXPECT_EQ(field(e.lines[0], "qkey"), std::to_string(0x80010000u)) << e.lines[0];
  std::string req = line_of(events(l.lines), "sidr_req_received");
  EXPECT_EQ(field(req, "request_id"), field(e.lines[0], "request_id")) << req;
}

TEST(ConnectCli, SeedRepeatsCommIdsAndRandomOnesDiffer) {
  int p = port_base() + 12;
  Listener listener(udp(p) + " --count 4 --timeout 20 --reject 28");
  ASSERT_TRUE(listener.ready);
  auto comm_id = [&](const std::string& extra) {
    auto c = run("connect " + udp(p + 1) + " --remote 127.0.0.1:" + std::to_string(p) +
                 " --timeout 20 --json" + extra);
    Events e = events(c.lines);
    EXPECT_EQ(e.names, std::vector<std::string>{"rej_received"});
    return field(line_of(e, "rej_received"), "local_comm_id");
  };
  std::string seeded1 = comm_id(" --seed 7"), seeded2 = comm_id(" --seed 7");
  std::string random1 = comm_id(""), random2 = comm_id("");
  EXPECT_EQ(listener.finish().exit_code, 0);
  EXPECT_NE(seeded1, "");
  EXPECT_EQ(seeded1, seeded2);
  EXPECT_NE(random1, random2);
  EXPECT_NE(random1, seeded1);
  EXPECT_NE(run("connect " + udp(1) + " --remote 127.0.0.1:2 --seed x 2>/dev/null").exit_code, 0);
}

// In a network namespace of its own (unshare: as root, or through a user namespace where the
// kernel allows one) the only interface is loopback, so every other address has no route and
// sendto fails at once with ENETUNREACH.
TEST(ConnectCli, AnUnreachablePeerIsReportedAtOnce) {
  if (run_shell("unshare -rn true 2>/dev/null").exit_code != 0)
    GTEST_SKIP() << "needs `unshare -rn` (util-linux; root, or unprivileged user namespaces)";
  struct Case {
    std::string command, transport, local, remote, expect;
  };
  std::vector<Case> cases = {
      {"connect", "udp", "127.0.0.1:5002", "192.0.2.9:5001", "192.0.2.9:5001"},
      {"connect", "roce", "::1", "2001:db8::1", "[2001:db8::1]:4791"},
      {"connect", "roce", "127.0.0.1", "192.0.2.9", "192.0.2.9:4791"},
      {"sidr", "udp", "[::1]:5002", "[2001:db8::1]:5001", "[2001:db8::1]:5001"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.command + " " + c.transport + " " + c.remote);
    auto start = std::chrono::steady_clock::now();
    auto r = run_shell("unshare -rn sh -c \"ip link set lo up && '" + std::string(IBCM_CLI) + "' " +
                       c.command + " --transport " + c.transport + " --local " + c.local +
                       " --remote " + c.remote + " --timeout 20 --json 2>&1\"");
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_LT(took, 2.0) << "not at once";
    std::string message =
        "ibcm " + c.command + ": cannot send to " + c.expect + ": Network is unreachable";
    bool said = false, timed_out = false;
    for (const auto& l : r.lines) {
      said = said || l == message;
      timed_out = timed_out || l.find("timeout") != std::string::npos;
    }
    EXPECT_TRUE(said) << message;
    EXPECT_FALSE(timed_out);
    Events e = events(r.lines);
    ASSERT_EQ(e.names, std::vector<std::string>{"send_error"});
    EXPECT_EQ(field(e.lines[0], "to"), c.expect);
    EXPECT_EQ(field(e.lines[0], "error"), "Network is unreachable");
  }
}

TEST(ConnectCli, ManyConnectionsAreAllUpBeforeAnyIsDisconnected) {
  int p = port_base() + 14;
  // As ucmatose does: N connections open at once, the hold counted from the last one up. The
  // first of two (QPN 0x888) is stale at the listener, so it is up only after REJ 10, TIMEWAIT
  // and a retry; the second (0x889) is up at once and must wait for it.
  StaleAtListener stale(p, "0x888", 3);
  ASSERT_TRUE(stale.listener.ready);
  ASSERT_EQ(stale.first.exit_code, 0);
  auto c = run(stale.connect + " --connections 2 --retries 1");
  auto l = stale.listener.finish();
  EXPECT_EQ(c.exit_code, 0);
  EXPECT_EQ(l.exit_code, 0);
  Events ce = events(c.lines);
  EXPECT_EQ(std::count(ce.names.begin(), ce.names.end(), "established"), 2);
  EXPECT_EQ(std::count(ce.names.begin(), ce.names.end(), "drep_received"), 2);
  auto last_up = ce.names.rend() - std::find(ce.names.rbegin(), ce.names.rend(), "established");
  auto first_down = std::find(ce.names.begin(), ce.names.end(), "drep_received") + 1;
  EXPECT_LT(last_up, first_down - ce.names.begin()) << "a DREP before the last established";
}

TEST(ListenCli, TextKeepsAddressesWholeAndNamesIdsInHex) {
  int p = port_base() + 16;
  CliProcess listener("listen " + udp(p) + " --count 1 --hold 0 --timeout 20");
  ASSERT_TRUE(listener.started() && listener.wait_for("listening", 10s));
  auto c = run("connect " + udp(p + 1) + " --remote 127.0.0.1:" + std::to_string(p) +
               " --hold 0 --timeout 20");
  auto l = finish_listener(listener);
  EXPECT_EQ(c.exit_code, 0);
  EXPECT_EQ(l.exit_code, 0);
  std::string req;
  for (const auto& line : l.lines)
    if (line.find(" event=req_received ") != std::string::npos) req = line;
  // The peer's IPv4-mapped address as it is, IDs as in `ibcm sim` and JSON, and every field a
  // key=value pair (an empty value is "").
  EXPECT_NE(req.find(" from=::ffff:127.0.0.1 "), std::string::npos) << req;
  EXPECT_TRUE(std::regex_search(req, std::regex(" local_comm_id=0x[0-9a-f]{8} "))) << req;
  EXPECT_TRUE(std::regex_search(req, std::regex(" remote_ca_guid=0x[0-9a-f]{16} "))) << req;
  EXPECT_TRUE(std::regex_search(req, std::regex(" service_id=0x0000000001060*[0-9a-f]{4} ")))
      << req;
  size_t pairs = 0;
  for (size_t at = 0; at < req.size(); at = req.find(' ', at) + 1, ++pairs) {
    size_t end = std::min(req.find(' ', at), req.size());
    EXPECT_NE(req.substr(at, end - at).find('='), std::string::npos) << req;
    if (end == req.size()) break;
  }
  EXPECT_GE(pairs, 8u) << req;
}
