// The rdmacm_peer program (RDMACM_PEER) as a child process of node B: commands go to its stdin,
// its answers and events come back one line each, read with a deadline (never a sleep). It is
// stopped by its PID (SIGKILL) if it has not exited by the end of the test.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace ibcm::rdmacm::test {

class PeerProcess {
 public:
  // Starts the peer with $IBCM_SOCKET = socket (its node's daemon).
  explicit PeerProcess(const std::string& socket) {
    // Everything the child needs is made before fork: the test process has threads, so the
    // child may only exec.
    std::vector<std::string> env_text{"IBCM_SOCKET=" + socket};
    for (char** e = environ; *e; ++e)
      if (std::string(*e).rfind("IBCM_SOCKET=", 0) != 0) env_text.emplace_back(*e);
    std::vector<char*> env;
    for (auto& s : env_text) env.push_back(s.data());
    env.push_back(nullptr);
    char path[] = RDMACM_PEER;
    char* argv[] = {path, nullptr};
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return;
    if (::pipe2(out, O_CLOEXEC) != 0) {
      ::close(in[0]);
      ::close(in[1]);
      return;
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::execve(path, argv, env.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  ~PeerProcess() {
    kill();
    if (to_ >= 0) ::close(to_);
    if (from_ >= 0) ::close(from_);
  }
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Whether it has said "ready" (its first line: the daemon answered); waits for it once.
  bool ready() {
    if (!ready_) ready_ = line() == "ready";
    return ready_;
  }

  // The next line it prints, or nothing if none came within `limit` (or it exited).
  std::optional<std::string> line(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string l = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return l;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{from_, POLLIN, 0};
      if (from_ < 0 || left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        return std::nullopt;
      char buf[1024];
      ssize_t n = ::read(from_, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }
  // Sends one command without waiting for its answer.
  bool send(const std::string& command) {
    std::string l = command + "\n";
    return to_ >= 0 && ::write(to_, l.data(), l.size()) == static_cast<ssize_t>(l.size());
  }
  // Sends one command and returns its first answer line ("" if none came).
  std::string ask(const std::string& command) { return send(command) ? line().value_or("") : ""; }
  // "connect PORT QPN HEX" once it is ready: whether it resolved 127.0.0.1:PORT (its two events,
  // in order) and its rdma_connect returned 0.
  bool connect(uint16_t port, const std::string& qpn, const std::string& hex = "-") {
    return ready() &&
           ask("connect " + std::to_string(port) + " " + qpn + " " + hex)
                   .rfind("RDMA_CM_EVENT_ADDR_RESOLVED ", 0) == 0 &&
           line().value_or("").rfind("RDMA_CM_EVENT_ROUTE_RESOLVED ", 0) == 0 && line() == "ok";
  }
  // SIGKILL and reap, if it still runs.
  void kill() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      reaped_ = true;
    }
  }
  // "quit", then its exit code (-1: it did not exit normally).
  int quit() {
    if (pid_ <= 0 || reaped_ || !send("quit")) return -1;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
  bool reaped_ = false;
  bool ready_ = false;
  std::string buffer_;
};

}  // namespace ibcm::rdmacm::test
