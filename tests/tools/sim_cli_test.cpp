// `ibcm sim` as a user runs it: the default story, JSON lines, exit codes, and a capture that
// both `ibcm decode` and Wireshark's tshark read.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tools/cli_run.h"

namespace ibcm::test {
namespace {

bool contains(const std::vector<std::string>& lines, const std::string& s) {
  for (const auto& l : lines)
    if (l.find(s) != std::string::npos) return true;
  return false;
}

class TempDir {
 public:
  TempDir() {
    char t[] = "/tmp/ibcm-sim-cli-XXXXXX";
    path_ = mkdtemp(t) ? t : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(SimCli, DefaultRunsTheStaleConnectionStory) {
  CliRun r = run("sim");
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_FALSE(r.lines.empty());
  EXPECT_EQ(r.lines[0],
            "== stale-reboot: B reboots while connected and reconnects to A from the "
            "same QPN");
  EXPECT_TRUE(contains(r.lines, "reason=10 StaleConnection"));
  EXPECT_TRUE(contains(r.lines, "outcome:  PASS"));
  EXPECT_TRUE(contains(r.lines, "recovery: 536.890912 ms"));
  EXPECT_TRUE(contains(r.lines, "2.000 round trips"));
}

TEST(SimCli, JsonIsOneObjectPerScenario) {
  CliRun r = run("sim lost-req no-listener --json --seed 5");
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.lines[0].rfind("{\"scenario\":\"lost-req\"", 0), 0u);
  EXPECT_NE(r.lines[0].find("\"seed\":5"), std::string::npos);
  EXPECT_NE(r.lines[1].find("\"sequence\":[\"A>B REQ\",\"B>A REJ 8\"]"), std::string::npos);
  for (const auto& l : r.lines) EXPECT_NE(l.find("\"passed\":true"), std::string::npos);
}

TEST(SimCli, AllListAndUnknown) {
  CliRun all = run("sim --all");
  EXPECT_EQ(all.exit_code, 0);
  EXPECT_TRUE(contains(all.lines, "11 of 11 scenarios passed"));
  CliRun list = run("sim --list");
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_EQ(list.lines.size(), 11u);
  CliRun bad = run("sim no-such-story 2>/dev/null");
  EXPECT_EQ(bad.exit_code, 2);
}

TEST(SimCli, CaptureDecodesInIbcmAndTshark) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string pcap = dir.path() + "/run.pcap";
  ASSERT_EQ(run("sim stale-reboot --pcap " + pcap).exit_code, 0);
  CliRun dec = run("decode " + pcap);
  EXPECT_EQ(dec.exit_code, 0);
  EXPECT_EQ(dec.lines.size(), 10u);  // the ten MADs of the story
  EXPECT_TRUE(contains(dec.lines, "REJ"));
  EXPECT_FALSE(contains(dec.lines, "error"));

  // Several scenarios: one capture each, named after the scenario.
  ASSERT_EQ(run("sim lost-req lost-rtu --pcap " + pcap).exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/run-lost-req.pcap"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/run-lost-rtu.pcap"));

  if (std::system("command -v tshark >/dev/null 2>&1") != 0) GTEST_SKIP() << "tshark not installed";
  // Wireshark dissects every frame as a CM MAD over RoCEv2 and finds nothing wrong with any.
  CliRun ts = run_shell("tshark -r " + pcap +
                        " -T fields -e infiniband.mad.attributeid -e _ws.expert.severity "
                        "2>/dev/null");
  EXPECT_EQ(ts.exit_code, 0);
  EXPECT_EQ(ts.lines,
            (std::vector<std::string>{"0x0010\t", "0x0013\t", "0x0014\t", "0x0010\t", "0x0012\t",
                                      "0x0015\t", "0x0016\t", "0x0010\t", "0x0013\t", "0x0014\t"}));
}

}  // namespace
}  // namespace ibcm::test

namespace ibcm::test {
namespace {

// A progress line goes to a terminal only: `script` gives the command one (stdout and stderr).
TEST(SimCli, RandomSeedsShowProgressOnATerminalOnly) {
  const std::string seeds = " sim --random --seeds 1..400";
  CliRun tty = run_shell("script -qec '" + std::string(IBCM_CLI) + seeds + "' /dev/null");
  if (tty.exit_code == 127) GTEST_SKIP() << "needs script (util-linux)";
  std::string all;
  for (const auto& l : tty.lines) all += l + "\n";
  EXPECT_NE(all.find("ibcm sim: seeds: "), std::string::npos) << all;
  EXPECT_NE(all.find(" of 400 done ("), std::string::npos) << all;
  EXPECT_NE(all.find("s left"), std::string::npos) << all;
  EXPECT_NE(all.find("400 seeds (1..400): 400 passed"), std::string::npos) << all;

  std::string piped, json;
  for (const auto& l : run(seeds.substr(1) + " 2>&1").lines) piped += l + "\n";
  EXPECT_EQ(piped.find(" done ("), std::string::npos) << piped;
  CliRun j = run_shell("script -qec '" + std::string(IBCM_CLI) + seeds + " --json' /dev/null");
  for (const auto& l : j.lines) json += l + "\n";
  EXPECT_EQ(json.find(" done ("), std::string::npos) << json;
}

}  // namespace
}  // namespace ibcm::test
