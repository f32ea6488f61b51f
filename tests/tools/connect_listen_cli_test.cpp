// `ibcm connect` and `ibcm listen` as a user runs them, over MAD-over-UDP on 127.0.0.1 (no
// privileges): the timer flags of connect (--cm-response-timeout, --max-cm-retries) reach the REQ
// and set the retry interval, and listen --hold makes the passive side disconnect.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tools/cli_run.h"

using ibcm::test::run;
using ibcm::test::run_shell;

namespace {

// UDP ports for this process (ctest runs test binaries in parallel).
int port_base() {
  return 20000 + static_cast<int>(::getpid() % 2000) * 10;
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
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  int p = port_base() + 5;
  std::string lp = std::to_string(p), cp = std::to_string(p + 1);
  std::string listen_log = tmp.path() + "/listen.log";
  // The listener disconnects 0.3 s after ESTABLISHED; connect would hold 10 s. Short REQ retries
  // cover a REQ sent before the listener is bound.
  auto r =
      run_shell("'" + std::string(IBCM_CLI) + "' listen --transport udp --local 127.0.0.1:" + lp +
                " --count 1 --hold 0.3 --timeout 20 --json >'" + listen_log +
                "' 2>&1 & l=$!; sleep 0.2; '" + std::string(IBCM_CLI) +
                "' connect --transport udp --local 127.0.0.1:" + cp + " --remote 127.0.0.1:" + lp +
                " --hold 10 --timeout 20 --cm-response-timeout 12 --json; c=$?; wait $l; "
                "echo \"rc $c $?\"; cat '" +
                listen_log + "'");
  ASSERT_EQ(r.exit_code, 0);
  std::vector<std::string> connect_lines, listen_lines;
  bool after = false;
  for (const auto& l : r.lines) {
    if (l.rfind("rc ", 0) == 0) {
      EXPECT_EQ(l, "rc 0 0") << "exit codes of connect and listen";
      after = true;
    } else {
      (after ? listen_lines : connect_lines).push_back(l);
    }
  }
  Events c = events(connect_lines), l = events(listen_lines);
  EXPECT_EQ(c.names, (std::vector<std::string>{"rep_received", "established", "dreq_received",
                                               "timewait_exit"}));
  EXPECT_EQ(l.names, (std::vector<std::string>{"listening", "req_received", "rtu_received",
                                               "established", "drep_received", "timewait_exit"}));
  double held = time_of(c, "dreq_received") - time_of(c, "established");
  EXPECT_GE(held, 0.3 - 0.01);
  EXPECT_LT(held, 1.0);
}
