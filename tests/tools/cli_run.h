// Runs the ibcm CLI built with the tests (IBCM_CLI) the way a user would, and collects its
// stdout lines and exit code.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <vector>

namespace ibcm::test {

struct CliRun {
  int exit_code = -1;
  std::vector<std::string> lines;  // without their newlines
};

// Runs a shell command line.
inline CliRun run_shell(const std::string& command) {
  CliRun r;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return r;
  std::string line;
  int c;
  while ((c = std::fgetc(p)) != EOF) {
    if (c == '\n') {
      r.lines.push_back(line);
      line.clear();
    } else {
      line += static_cast<char>(c);
    }
  }
  if (!line.empty()) r.lines.push_back(line);  // a last line without newline is a bug; keep it
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs `ibcm ARGS` (ARGS may carry shell redirections).
inline CliRun run(const std::string& args) {
  return run_shell(std::string(IBCM_CLI) + " " + args);
}

}  // namespace ibcm::test
