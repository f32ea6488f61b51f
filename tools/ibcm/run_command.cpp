// ibcm run -- PROGRAM [ARGS...]: runs an unmodified rdma_cm program on ibcm. It puts ibcm's
// librdmacm.so.1 first on the library path and, when no daemon serves the socket yet, starts
// `ibcm daemon` (in the background, its output in a log beside the socket), then execs PROGRAM.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "ibcm/commands.h"
#include "ibcm/daemon/socket.h"

namespace ibcm::cli {

namespace {

struct RunOptions {
  std::string device;
  int port_num = 0;
  std::vector<std::string> command;
};

// Where librdmacm.so.1 is: lib/ibcm beside the bin (installed) or tools (build tree) directory
// this executable is in.
std::filesystem::path library_dir(const std::filesystem::path& self) {
  return self.parent_path().parent_path() / "lib" / "ibcm";
}

// Starts `self daemon ...` detached, its output appended to `log`; waits (5 s at most) until it
// answers on `path`.
bool start_daemon(const std::filesystem::path& self, const RunOptions& o, const std::string& path,
                  const std::string& log) {
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    ::setsid();
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    std::vector<std::string> args = {self.string(), "daemon", "--socket", path, "--stats"};
    if (!o.device.empty()) args.insert(args.end(), {"--device", o.device});
    if (o.port_num != 0) args.insert(args.end(), {"--port-num", std::to_string(o.port_num)});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  for (int i = 0; i < 500; ++i) {
    if (daemon::daemon_answers(path)) return true;
    int status;
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;  // it could not start
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int run_program(RunOptions o) {
  if (!o.command.empty() && o.command.front() == "--") o.command.erase(o.command.begin());
  if (o.command.empty()) {
    std::fprintf(stderr, "ibcm run: no program given (ibcm run -- PROGRAM [ARGS...])\n");
    return 2;
  }
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    std::fprintf(stderr, "ibcm run: cannot find this executable: %s\n", ec.message().c_str());
    return 2;
  }
  auto libdir = library_dir(self);
  if (!std::filesystem::exists(libdir / "librdmacm.so.1")) {
    std::fprintf(stderr, "ibcm run: no %s\n", (libdir / "librdmacm.so.1").c_str());
    return 2;
  }
  std::string path = daemon::socket_path();
  if (!daemon::daemon_answers(path)) {
    std::string log = std::filesystem::path(path).parent_path() / "daemon.log";
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    // Another `ibcm run` (or the user) may have started one meanwhile: then ours gives way.
    if (!start_daemon(self, o, path, log) && !daemon::daemon_answers(path)) {
      std::fprintf(stderr, "ibcm run: the daemon did not start (see %s)\n", log.c_str());
      return 2;
    }
  }
  std::string ld = libdir.string();
  if (const char* old = std::getenv("LD_LIBRARY_PATH"); old && *old) ld += std::string(":") + old;
  ::setenv("LD_LIBRARY_PATH", ld.c_str(), 1);
  ::setenv(daemon::kSocketEnv, path.c_str(), 1);
  std::vector<char*> argv;
  for (auto& a : o.command) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  std::fprintf(stderr, "ibcm run: cannot run %s: %s\n", argv[0], std::strerror(errno));
  return 127;
}

}  // namespace

void add_run(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand(
      "run", "Run an unmodified rdma_cm program on ibcm (starts `ibcm daemon` if none runs)");
  static RunOptions o;
  cmd->add_option("--device", o.device, "the daemon's RDMA device, if it must be started");
  cmd->add_option("--port-num", o.port_num, "the daemon's port, if it must be started");
  cmd->add_option("command", o.command, "-- PROGRAM [ARGS...]")->required();
  cmd->prefix_command();
  cmd->callback([&run, cmd] {
    for (const auto& extra : cmd->remaining()) o.command.push_back(extra);
    run = [] { return run_program(o); };
  });
}

}  // namespace ibcm::cli
