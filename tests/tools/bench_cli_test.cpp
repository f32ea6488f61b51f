// `ibcm bench --linux FILE`: the targets measured against the Linux kernel CM in the interop guest
// come from bench/linux-cm-compare's report and are printed, pass or fail, in the same table. And
// its progress line, on a terminal only.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "cli_run.h"

namespace ibcm::test {
namespace {

using ::testing::HasSubstr;

// A report as bench/linux-cm-compare -o writes it, with the values that matter chosen by the test.
std::string report(double engine_ratio, int guest_reboot_rts, int ibcm_restart_rts) {
  auto stale = [](int rts) {
    return "{\"sender\":\"ibcm\",\"round_trips\":" + std::to_string(rts) +
           ",\"elapsed_s\":2.15,\"waited_s\":2.147,\"exchanges\":[],\"stale_dreq\":null}";
  };
  return "{\"kernel\":\"6.1\",\"connections\":1000,\"cmtime_connect_ms\":2276.0,"
         "\"stale_recovery\":{\"ibcm-restart-stale\":" +
         stale(ibcm_restart_rts) + ",\"guest-reboot-stale\":" + stale(guest_reboot_rts) +
         "},\"linux_connections_per_s\":439.0,\"ibcm_engine_handshakes_per_s\":98899.0,"
         "\"ibcm_udp_handshakes_per_s\":11288.0,\"engine_ratio\":" +
         std::to_string(engine_ratio) + ",\"udp_ratio\":25.7,\"cmtime_output\":[]}";
}

class BenchLinux : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ibcm-bench-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  // The first line that starts with `start` (and has `has` in it).
  static const std::string* row(const CliRun& r, const std::string& start,
                                const std::string& has = "") {
    for (const auto& l : r.lines)
      if (l.rfind(start, 0) == 0 && l.find(has) != std::string::npos) return &l;
    return nullptr;
  }
  std::string dir_;
};

TEST_F(BenchLinux, ReportRowsArePrintedWithTheirVerdicts) {
  auto path = write("ok.json", report(225.3, 2, 2));
  auto r = run("bench --quick --only stale --strict --linux " + path + " 2>/dev/null");
  EXPECT_EQ(r.exit_code, 0);
  auto* ratio = row(r, "against the Linux 6.1 CM, same guest: ibcm engine / Linux cmtime");
  ASSERT_NE(ratio, nullptr);
  EXPECT_THAT(*ratio, HasSubstr("225×"));
  EXPECT_THAT(*ratio, HasSubstr("pass"));
  for (const char* s : {"guest-reboot-stale", "ibcm-restart-stale"}) {
    auto* stale = row(r, std::string("stale recovery against Linux 6.1 (") + s + ")");
    ASSERT_NE(stale, nullptr) << s;
    EXPECT_THAT(*stale, HasSubstr("pass"));
  }
}

TEST_F(BenchLinux, MissedTargetsFailAndStrictSaysSo) {
  auto path = write("slow.json", report(7.5, 2, 4));
  auto r = run("bench --quick --only stale --strict --linux " + path + " 2>/dev/null");
  EXPECT_EQ(r.exit_code, 1);
  auto* ratio = row(r, "against the Linux 6.1 CM, same guest");
  ASSERT_NE(ratio, nullptr);
  EXPECT_THAT(*ratio, HasSubstr("FAIL"));
  auto* restart = row(r, "stale recovery against Linux 6.1 (ibcm-restart-stale)");
  ASSERT_NE(restart, nullptr);
  EXPECT_THAT(*restart, HasSubstr("FAIL"));
  auto* reboot = row(r, "stale recovery against Linux 6.1 (guest-reboot-stale)");
  ASSERT_NE(reboot, nullptr);
  EXPECT_THAT(*reboot, HasSubstr("pass"));
}

TEST_F(BenchLinux, TheReportGoesIntoTheJson) {
  auto path = write("ok.json", report(225.3, 2, 2));
  auto json = dir_ + "/out.json";
  auto r =
      run("bench --quick --only stale --json " + json + " --linux " + path + " >/dev/null 2>&1");
  ASSERT_EQ(r.exit_code, 0);
  std::ifstream in(json);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("\"name\":\"linux_6.1_engine_ratio\""));
  EXPECT_THAT(text, HasSubstr("\"linux_6.1\":{"));
}

// --repeat N runs the table N times, ends with how many runs passed each target, and exits 0 only
// when every target passed in every run (the Linux report makes the verdicts the test's to choose).
TEST_F(BenchLinux, RepeatCountsTheRunsEachTargetPassed) {
  auto ok = write("ok.json", report(225.3, 2, 2));
  auto r = run("bench --quick --only stale --repeat 3 --linux " + ok + " 2>/dev/null");
  EXPECT_EQ(r.exit_code, 0);
  std::string all;
  for (const auto& l : r.lines) all += l + "\n";
  EXPECT_THAT(all, HasSubstr("run 1 of 3:"));
  EXPECT_THAT(all, HasSubstr("run 3 of 3:"));
  EXPECT_THAT(all, HasSubstr("Over 3 runs:"));
  const std::string name = "against the Linux 6.1 CM, same guest: ibcm engine / Linux cmtime";
  auto* ratio = row(r, name, " of 3");  // the summary's row
  ASSERT_NE(ratio, nullptr) << all;
  EXPECT_THAT(*ratio, HasSubstr("3 of 3"));

  auto slow = write("slow.json", report(7.5, 2, 2));
  auto json = dir_ + "/repeat.json";
  auto f = run("bench --quick --only stale --repeat 2 --json " + json + " --linux " + slow +
               " 2>/dev/null");
  EXPECT_EQ(f.exit_code, 1);
  auto* missed = row(f, name, " of 2");
  ASSERT_NE(missed, nullptr);
  EXPECT_THAT(*missed, HasSubstr("0 of 2"));
  std::ifstream in(json);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("\"repeat\":2,\"runs\":[{\"run\":1,"));
  EXPECT_THAT(text,
              HasSubstr("{\"name\":\"linux_6.1_engine_ratio\",\"target\":\"≥ 10×\",\"runs\":2,"
                        "\"passed\":0,\"values\":[7.5,7.5]}"));
}

// Targets judged on the median of rounds show the rounds' spread; one-round measurements none.
TEST(BenchCli, TargetsShowTheirRoundsSpread) {
  auto r = run("bench --quick --only timers,stale 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0);
  const std::string* timers = nullptr;
  for (const auto& l : r.lines)
    if (l.rfind("timers: arm + cancel", 0) == 0) timers = &l;
  ASSERT_NE(timers, nullptr);
  // Any verdict: a sanitizer build is slower than the target, and no test judges a time.
  EXPECT_THAT(*timers, ::testing::ContainsRegex("[0-9.]+ / [0-9.]+ +(pass|FAIL)$"));
}

// A progress line goes to a terminal only (`script` gives the command one): the measurement
// running, those left, an estimate of the time left; none on a pipe.
TEST(BenchCli, ProgressOnATerminalOnly) {
  const std::string args = " bench --quick --only timers,stale";
  CliRun tty = run_shell("script -qec '" + std::string(IBCM_CLI) + args + "' /dev/null");
  if (tty.exit_code == 127) GTEST_SKIP() << "needs script (util-linux)";
  EXPECT_EQ(tty.exit_code, 0);
  std::string all;
  for (const auto& l : tty.lines) all += l + "\n";
  EXPECT_THAT(all, HasSubstr("ibcm bench: timers (1 of 2; stale left), "));
  EXPECT_THAT(all, HasSubstr("ibcm bench: stale (2 of 2), "));
  EXPECT_THAT(all, HasSubstr(" left"));
  EXPECT_THAT(all, HasSubstr("timers: arm + cancel"));

  CliRun piped = run(args.substr(1) + " 2>&1");
  EXPECT_EQ(piped.exit_code, 0);
  std::string text;
  for (const auto& l : piped.lines) text += l + "\n";
  EXPECT_THAT(text, HasSubstr("ibcm bench: timers...\nibcm bench: stale...\n"));
  EXPECT_EQ(text.find(" left"), std::string::npos) << text;
  EXPECT_EQ(text.find("\033["), std::string::npos) << text;
}

TEST_F(BenchLinux, ANonReportIsAClearError) {
  auto path = write("bad.json", "{\"kernel\":\"6.1\"}");
  auto r = run("bench --quick --only stale --linux " + path + " 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  bool said = false;
  for (const auto& l : r.lines)
    said = said || l.find("not a bench/linux-cm-compare report") != std::string::npos;
  EXPECT_TRUE(said);
  auto missing = run("bench --quick --only stale --linux " + dir_ + "/none.json 2>&1");
  EXPECT_NE(missing.exit_code, 0);
}

}  // namespace
}  // namespace ibcm::test
