// `ibcm probe` as a user runs it: against `ibcm listen` with one rule broken on purpose, its
// JSON lines and its exit status (the number of deviations; 101 when it cannot run).
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tools/cli_process.h"
#include "tools/cli_run.h"

namespace {

using ibcm::test::CliProcess;
using ibcm::test::run;
using namespace std::chrono_literals;

// UDP ports for this process (ctest runs test binaries in parallel), apart from the other CLI
// tests' (connect_listen_cli_test.cpp takes 20000 + 20 per process).
int port_base() {
  return 42000 + static_cast<int>(::getpid() % 1000) * 4;
}

TEST(ProbeCli, ReportsTheBrokenRuleAsOneDeviationInJson) {
  int p = port_base();
  CliProcess listener("listen --transport udp --local 127.0.0.1:" + std::to_string(p) +
                      " --port 7174 --hold 1.5 --count 1000 --mutation ignore-rej-on-established");
  ASSERT_TRUE(listener.started());
  ASSERT_TRUE(listener.wait_for("listening", 10s));
  auto r = run("probe --transport udp --local 127.0.0.1:" + std::to_string(p + 1) +
               " --remote 127.0.0.1:" + std::to_string(p) +
               " --port 7174 --only dreq-unknown,rej-established --json");
  EXPECT_EQ(r.exit_code, 1);  // one deviation
  ASSERT_EQ(r.lines.size(), 2u);
  std::vector<std::string> results;
  for (const auto& line : r.lines) {
    auto j = nlohmann::json::parse(line);
    for (const char* key : {"check", "section", "expected", "seen", "result"})
      EXPECT_TRUE(j.contains(key)) << key << " in " << line;
    results.push_back(j["check"].get<std::string>() + "=" + j["result"].get<std::string>());
  }
  EXPECT_EQ(results, (std::vector<std::string>{"rej-established=deviation", "dreq-unknown=pass"}));
}

TEST(ProbeCli, IbcmListenPassesTheNewChecksAndThePassiveOnesWaitToBeAsked) {
  // What `ibcm listen` had to learn for them: REJ 26, REJ 12, REJ 30, an APR for every LAP, REJ
  // 17, 18, 23 and 31. Without --connect-wait the probe does not wait for the remote to connect
  // to it: n/a; a REQ field whose validity depends on the port is n/a for any remote.
  int p = port_base();  // the first test's listener is gone by now
  CliProcess listener("listen --transport udp --local 127.0.0.1:" + std::to_string(p) +
                      " --port 7174 --count 1000");
  ASSERT_TRUE(listener.started());
  ASSERT_TRUE(listener.wait_for("listening", 10s));
  auto r = run("probe --transport udp --local 127.0.0.1:0 --remote 127.0.0.1:" + std::to_string(p) +
               " --port 7174 --only invalid-mtu,invalid-gid,invalid-qpn,reused-comm-id,reused-tid,"
               "lap,stale-rep,mra-req,invalid-packet-rate,invalid-alt-gid,invalid-alt-packet-rate,"
               "invalid-class-version,invalid-sl --json");
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.lines.size(), 13u);
  std::vector<std::string> results;
  for (const auto& line : r.lines) {
    auto j = nlohmann::json::parse(line);
    results.push_back(j["check"].get<std::string>() + "=" + j["result"].get<std::string>());
    EXPECT_EQ(j["left_open"], 0) << line;
    if (j["result"] == "n/a" && j["check"] != "invalid-sl") {
      EXPECT_NE(j["seen"].get<std::string>().find("active side was not asked for"),
                std::string::npos)
          << line;
    }
  }
  EXPECT_EQ(results,
            (std::vector<std::string>{"invalid-mtu=pass", "invalid-gid=pass", "invalid-sl=n/a",
                                      "invalid-packet-rate=pass", "invalid-alt-gid=pass",
                                      "invalid-alt-packet-rate=pass", "invalid-class-version=pass",
                                      "invalid-qpn=pass", "reused-comm-id=pass", "reused-tid=pass",
                                      "lap=pass", "stale-rep=n/a", "mra-req=n/a"}));
}

TEST(ProbeCli, CannotRunIs101) {
  int p = port_base() + 2;
  // Nobody listens there: not one answer.
  auto silent = run("probe --transport udp --local 127.0.0.1:" + std::to_string(p) +
                    " --remote 127.0.0.1:" + std::to_string(p + 1) +
                    " --only dreq-unknown --answer-wait 0.1 2>/dev/null");
  EXPECT_EQ(silent.exit_code, 101);
  EXPECT_EQ(run("probe --transport udp --local 127.0.0.1:0 --remote 127.0.0.1:9 "
                "--only no-such-check 2>/dev/null")
                .exit_code,
            101);
  EXPECT_EQ(run("probe --no-such-option 2>/dev/null").exit_code, 101);  // a usage error
  EXPECT_EQ(run("probe --transport udp --local 127.0.0.1:0 2>/dev/null").exit_code,
            101);  // no --remote
}

}  // namespace
