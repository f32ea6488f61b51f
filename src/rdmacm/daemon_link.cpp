#include "rdmacm/daemon_link.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <string>

#include "daemon/fd_passing.h"
#include "ibcm/daemon/socket.h"

namespace ibcm::rdmacm {

namespace {

std::mutex g_mu;
int g_fd = -1;
uint32_t g_seq = 0;
bool g_said_no_daemon = false;

int connect_locked() {
  if (g_fd >= 0) return 0;
  std::string path = daemon::socket_path();
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (fd >= 0) ::close(fd);
    if (!g_said_no_daemon) {
      g_said_no_daemon = true;
      std::fprintf(stderr,
                   "librdmacm (ibcm): no CM daemon answers on %s: start `ibcm daemon`, or run "
                   "the program with `ibcm run -- PROGRAM`\n",
                   path.c_str());
    }
    return ENODEV;
  }
  g_fd = fd;
  daemon::proto::Request hello;
  hello.op = daemon::proto::Op::Hello;
  hello.arg = static_cast<int32_t>(daemon::proto::kVersion);
  daemon::proto::Reply r;
  if (::send(fd, &hello, sizeof hello, MSG_NOSIGNAL) != sizeof hello ||
      ::recv(fd, &r, sizeof r, 0) != sizeof r || r.err != 0) {
    std::fprintf(stderr, "librdmacm (ibcm): the daemon on %s speaks another protocol version\n",
                 path.c_str());
    ::close(fd);
    g_fd = -1;
    return EPROTO;
  }
  return 0;
}

int receive(daemon::proto::Reply& out, int* fd_out) {
  ssize_t n;
  do {
    n = daemon::recv_with_fd(g_fd, &out, sizeof out, fd_out);
  } while (n < 0 && errno == EINTR);
  if (n != sizeof out) return n == 0 ? ECONNRESET : EPROTO;
  return 0;
}

int send_locked(daemon::proto::Request& r) {
  if (int e = connect_locked(); e != 0) return e;
  r.seq = ++g_seq;
  if (::send(g_fd, &r, sizeof r, MSG_NOSIGNAL) != sizeof r) {
    std::fprintf(stderr, "librdmacm (ibcm): the CM daemon went away\n");
    ::close(g_fd);
    g_fd = -1;
    return ECONNRESET;
  }
  return 0;
}

}  // namespace

int post(daemon::proto::Request& r) {
  std::lock_guard lock(g_mu);
  r.no_reply = 1;
  return send_locked(r);
}

int call(daemon::proto::Request& r, daemon::proto::Reply& out, int* fd_out) {
  std::lock_guard lock(g_mu);
  if (int e = send_locked(r); e != 0) return e;
  if (int e = receive(out, fd_out); e != 0 || out.seq != r.seq) {
    ::close(g_fd);
    g_fd = -1;
    return e != 0 ? e : EPROTO;
  }
  return out.err;
}

int call_or_errno(daemon::proto::Request& r, daemon::proto::Reply& out) {
  int e = call(r, out);
  if (e == 0) return 0;
  errno = e;
  return -1;
}

void say_once(const char* what) {
  static std::mutex mu;
  static std::set<std::string> said;
  std::lock_guard lock(mu);
  if (said.insert(what).second) std::fprintf(stderr, "librdmacm (ibcm): %s\n", what);
}

}  // namespace ibcm::rdmacm
