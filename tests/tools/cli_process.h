// The ibcm CLI (IBCM_CLI) running in the background, its stdout and stderr read line by line as
// they come: a test waits for a line (a listener's "listening") instead of sleeping, and stops
// the process by its PID.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "tools/cli_run.h"

namespace ibcm::test {

class CliProcess {
 public:
  // Starts `ibcm ARGS` (ARGS as a shell would split them), stderr merged into stdout.
  explicit CliProcess(const std::string& args) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
      ::close(fds[0]);
      ::close(fds[1]);
      std::string command = "exec '" + std::string(IBCM_CLI) + "' " + args;
      ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
  }
  ~CliProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  bool started() const { return pid_ > 0 && fd_ >= 0; }
  // Reads until a line containing `text` has come (true) or `limit` passed / output ended.
  bool wait_for(const std::string& text, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      for (size_t i = searched_; i < lines_.size(); ++i)
        if (lines_[i].find(text) != std::string::npos) {
          searched_ = i + 1;
          return true;
        }
      searched_ = lines_.size();
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !read_some(static_cast<int>(left.count()))) return false;
    }
  }
  // SIGTERM (the CLI prints its counters and exits), then finish().
  CliRun terminate() {
    if (pid_ > 0 && !reaped_) ::kill(pid_, SIGTERM);
    return finish();
  }
  // Reads to the end of the output and waits for the exit.
  CliRun finish() {
    while (read_some(-1)) {
    }
    CliRun r;
    if (pid_ > 0 && !reaped_) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
      reaped_ = true;
      r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (!partial_.empty()) lines_.push_back(partial_);
    partial_.clear();
    r.lines = lines_;
    return r;
  }

 private:
  // One read of what is there (waiting at most timeout_ms, -1: for ever); false at end of output
  // or on timeout.
  bool read_some(int timeout_ms) {
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) return false;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == '\n') {
        lines_.push_back(partial_);
        partial_.clear();
      } else {
        partial_ += buf[i];
      }
    }
    return true;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
  std::vector<std::string> lines_;
  std::string partial_;
  size_t searched_ = 0;
};

}  // namespace ibcm::test
