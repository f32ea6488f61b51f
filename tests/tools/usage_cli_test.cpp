// What every command line tool is expected to answer: --version, --help on each command, usage
// errors as exit status 2, and man pages that show the same options as --help.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ibcm/version.h"
#include "tools/cli_run.h"

namespace ibcm::test {
namespace {

// The commands `ibcm --help` lists.
std::vector<std::string> commands() {
  std::vector<std::string> out;
  bool in_list = false;
  for (const auto& line : run("--help").lines) {
    if (line == "Subcommands:")
      in_list = true;
    else if (line.empty())
      in_list = false;
    else if (in_list)
      out.push_back(line.substr(2, line.find(' ', 2) - 2));
  }
  return out;
}

std::string joined(const CliRun& r) {
  std::string all;
  for (const auto& l : r.lines) all += l + "\n";
  return all;
}

TEST(UsageCli, VersionPrintsTheVersion) {
  CliRun r = run("--version");
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(r.lines[0], "ibcm " IBCM_VERSION);
}

TEST(UsageCli, EveryCommandHasHelpWithTheExitStatus) {
  std::vector<std::string> all = commands();
  EXPECT_GE(all.size(), 6u);  // decode, connect, listen, sidr, sim, bench at least
  for (const std::string& command : all) {
    CliRun r = run(command + " --help");
    EXPECT_EQ(r.exit_code, 0) << command;
    std::string help = joined(r);
    EXPECT_NE(help.find("ibcm " + command), std::string::npos) << help;
    EXPECT_NE(help.find("Exit status: 0"), std::string::npos) << help;
  }
}

TEST(UsageCli, UsageErrorsExitTwo) {
  EXPECT_EQ(run("--no-such-option 2>/dev/null").exit_code, 2);
  EXPECT_EQ(run("no-such-command 2>/dev/null").exit_code, 2);
  EXPECT_EQ(run("2>/dev/null").exit_code, 2);  // a command is required
  EXPECT_EQ(run("sim --seed not-a-number 2>/dev/null").exit_code, 2);
}

TEST(UsageCli, DeviceOptionsNeedTheUmadTransport) {
  for (const char* option : {"--device rxe0", "--gid-index 1", "--umad-writes"}) {
    CliRun r = run(std::string("listen --transport udp --local 127.0.0.1:0 ") + option + " 2>&1");
    EXPECT_NE(r.exit_code, 0) << option;
    EXPECT_NE(joined(r).find("need --transport umad"), std::string::npos) << joined(r);
  }
}

TEST(UsageCli, ManPagesListEveryCommandAndItsOptions) {
  std::string top = joined(run("man"));
  EXPECT_EQ(top.rfind(".TH IBCM 1 ", 0), 0u) << top;
  for (const std::string& command : commands()) {
    EXPECT_NE(top.find(".BR ibcm\\-" + command + " (1)"), std::string::npos) << command;
    CliRun page = run("man " + command);
    EXPECT_EQ(page.exit_code, 0) << command;
    std::string text = joined(page);
    EXPECT_NE(text.find(".SH EXIT STATUS"), std::string::npos) << command;
    // Every long option --help shows is on the page (roff writes '-' as "\-").
    for (const auto& line : run(command + " --help").lines) {
      size_t at = line.find("--");
      if (at == std::string::npos || line.find_first_not_of(' ') != at) continue;
      std::string option = line.substr(at, line.find_first_of(" ,", at) - at);
      std::string escaped;
      for (char c : option) escaped += c == '-' ? std::string("\\-") : std::string(1, c);
      EXPECT_NE(text.find(escaped), std::string::npos) << command << " " << option;
    }
  }
  EXPECT_EQ(run("man no-such-command 2>/dev/null").exit_code, 2);
}

}  // namespace
}  // namespace ibcm::test

namespace ibcm::test {
namespace {

// Bash completes with the script `ibcm completion` writes: what it offers for the words so far.
std::string completions(const std::string& words, int current) {
  CliRun r = run_shell("bash -c 'source <(" + std::string(IBCM_CLI) + " completion); COMP_WORDS=(" +
                       words + "); COMP_CWORD=" + std::to_string(current) +
                       "; _ibcm; echo \"${COMPREPLY[*]}\"'");
  return r.exit_code == 0 && r.lines.size() == 1 ? r.lines[0] : "(failed)";
}

TEST(UsageCli, BashCompletesCommandsAndTheirOptions) {
  EXPECT_EQ(completions("ibcm si", 1), "sidr sim");
  EXPECT_EQ(completions("ibcm sim --se", 2), "--seed --seeds");
  EXPECT_EQ(completions("ibcm decode --j", 2), "--json");
  EXPECT_EQ(completions("ibcm --vers", 1), "--version");
  EXPECT_EQ(completions("ibcm decode cap", 2), "");  // not an option: bash completes file names
}

}  // namespace
}  // namespace ibcm::test
