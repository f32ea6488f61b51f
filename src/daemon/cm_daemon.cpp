// The daemon's sockets: the listening socket, one command socket per program, one socket per
// event channel (made here and handed to the program).
#include "ibcm/daemon/cm_daemon.h"

#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "daemon/daemon_state.h"
#include "daemon/fd_passing.h"

namespace ibcm::daemon {

namespace {

// Events a channel holds for a program that does not read them, beyond what its socket buffer
// takes; past it they are dropped (counted, logged once a channel).
constexpr size_t kMaxWaitingEvents = 65536;

}  // namespace

bool daemon_answers(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  bool yes = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return yes;
}

void CmDaemon::State::say(const std::string& line) const {
  if (log) {
    log(line);
  } else {
    std::cerr << "ibcm daemon: " << line << '\n';
  }
}

uint32_t CmDaemon::State::random() {
  // xorshift32 seeded from getrandom: PSNs and ports need to differ, not to be secret.
  if (random_state == 0) {
    while (::getrandom(&random_state, sizeof random_state, 0) != sizeof random_state) {
    }
    random_state |= 1;
  }
  random_state ^= random_state << 13;
  random_state ^= random_state >> 17;
  random_state ^= random_state << 5;
  return random_state;
}

Id* CmDaemon::State::id_of(int program, uint32_t handle) {
  auto it = ids.find(handle);
  if (it == ids.end() || it->second.program != program) return nullptr;
  return &it->second;
}

void CmDaemon::State::drain(Channel& ch) {
  while (!ch.waiting.empty()) {
    ssize_t n =
        ::send(ch.fd, &ch.waiting.front(), sizeof(proto::Event), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) return;  // full (EAGAIN) or gone (the program's exit cleans up)
    ch.waiting.pop_front();
  }
}

void CmDaemon::State::post(Id& id, proto::Event ev) {
  auto it = channels.find(id.channel);
  if (it == channels.end()) return;
  Channel& ch = it->second;
  ev.id = id.handle;
  ++counters.events;
  if (ch.waiting.size() >= kMaxWaitingEvents) {
    if (counters.events_dropped++ == 0 || ch.waiting.size() == kMaxWaitingEvents)
      say("a program does not read its events (pid " + std::to_string(programs[ch.program].pid) +
          "): dropping them");
    return;
  }
  ch.waiting.push_back(ev);
  drain(ch);
}

void CmDaemon::State::resolved(Id& id, IdState state, int type) {
  id.state = state;
  proto::Event e = proto::event_of(type);
  e.route = id.route;
  post(id, e);
}

namespace {

// A program's requests served in one round of the loop. A program that posts faster than we
// serve (cmtime's rdma_connect loop) would otherwise keep us here: its REQs would wait for the
// end of the round to be sent, and the REPs already in for the ones before them to be read.
constexpr int kRequestsPerRound = 16;

// Reads and answers up to kRequestsPerRound requests waiting on a program's socket (the level-
// triggered loop calls again for the rest); false when the program is gone.
bool serve(CmDaemon::State& s, Cm& cm, Time now, int fd) {
  for (int served = 0; served < kRequestsPerRound; ++served) {
    proto::Request r;
    ssize_t n = ::recv(fd, &r, sizeof r, MSG_DONTWAIT);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    ++s.counters.requests;
    if (n != sizeof r) {
      ++s.counters.bad_requests;
      s.say("a request of " + std::to_string(n) + " bytes, not " + std::to_string(sizeof r) +
            ": a program built against another ibcm? Dropped");
      continue;
    }
    proto::Reply reply;
    int channel_fd = -1;
    if (r.op == proto::Op::CreateChannel) {
      int pair[2];
      if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
        reply.err = errno;
      } else {
        int big = 4 << 20;
        (void)::setsockopt(pair[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
        uint32_t h = s.next_handle++;
        s.channels[h] = Channel{pair[0], fd, {}};
        s.programs[fd].channels.insert(h);
        reply.id = h;
        channel_fd = pair[1];
        s.rt->watch(pair[0], [&s, h](Cm&, Time) {
          // The program closed its end (or exited): nothing to read on a channel but its end.
          auto it = s.channels.find(h);
          if (it == s.channels.end()) return;
          char b;
          if (::recv(it->second.fd, &b, 1, MSG_DONTWAIT) == 0 || errno != EAGAIN) {
            s.rt->unwatch(it->second.fd);
            ::close(it->second.fd);
            s.programs[it->second.program].channels.erase(h);
            s.channels.erase(it);
          }
        });
      }
    } else {
      reply = s.handle(cm, now, fd, r);
    }
    reply.seq = r.seq;
    if (r.no_reply) {
      if (reply.err != 0) s.refused(fd, r, reply.err);
      continue;
    }
    bool sent = channel_fd >= 0 ? send_with_fd(fd, &reply, sizeof reply, channel_fd)
                                : ::send(fd, &reply, sizeof reply, MSG_NOSIGNAL) ==
                                      static_cast<ssize_t>(sizeof reply);
    if (channel_fd >= 0) ::close(channel_fd);
    if (!sent) return false;
  }
  return true;
}

}  // namespace

namespace {
// A connection that the program's exit ends (one already disconnected or rejected is over). A UD
// ID has none to end, only a SIDR_REQ it has not answered (REJECT).
bool connected(const Id& id) {
  IdState s = id.state;
  if (id.ud()) return s == IdState::ConnectRequest;
  return s == IdState::Connecting || s == IdState::ConnectResponse ||
         s == IdState::ConnectRequest || s == IdState::Accepting || s == IdState::Connected;
}
}  // namespace

void CmDaemon::State::program_gone(Cm& cm, Time now, int fd) {
  auto it = programs.find(fd);
  if (it == programs.end()) return;
  Program p = std::move(it->second);
  uint64_t ended = 0;
  for (uint32_t h : p.ids)
    if (auto id = ids.find(h); id != ids.end()) {
      ended += connected(id->second);
      end_id(cm, now, id->second);
    }
  counters.ended_by_exit += ended;
  say("program " + std::to_string(p.pid) + " left (" + std::to_string(p.ids.size()) + " IDs, " +
      std::to_string(ended) + " connections ended)");
  for (uint32_t h : p.channels)
    if (auto ch = channels.find(h); ch != channels.end()) {
      rt->unwatch(ch->second.fd);
      ::close(ch->second.fd);
      channels.erase(ch);
    }
  rt->unwatch(fd);
  ::close(fd);
  programs.erase(fd);
  counters.programs = programs.size();
}

CmDaemon::CmDaemon(std::unique_ptr<State> s) : s_(std::move(s)) {}

Expected<std::unique_ptr<CmDaemon>, std::string> CmDaemon::open(Runtime& rt, ServedPort port,
                                                                const std::string& path,
                                                                DaemonConfig config) {
  auto s = std::make_unique<State>();
  s->rt = &rt;
  s->config = config;
  s->port = std::move(port);
  s->path = path;
  sockaddr_un a{};
  if (path.size() >= sizeof a.sun_path) return Unexpected{"socket path too long: " + path};
  if (daemon_answers(path)) return Unexpected{"a daemon already serves " + path};
  if (auto slash = path.rfind('/'); slash != std::string::npos && slash > 0)
    (void)::mkdir(path.substr(0, slash).c_str(), 0755);
  ::unlink(path.c_str());
  s->listen_fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (s->listen_fd < 0 || ::bind(s->listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::chmod(path.c_str(), 0666) != 0 || ::listen(s->listen_fd, 128) != 0) {
    std::string why = std::strerror(errno);
    if (s->listen_fd >= 0) ::close(s->listen_fd);
    return Unexpected{"cannot listen on " + path + ": " + why};
  }
  State* st = s.get();
  rt.watch(st->listen_fd, [st](Cm&, Time) {
    for (;;) {
      int fd = ::accept4(st->listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      ucred cred{};
      socklen_t len = sizeof cred;
      (void)::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
      st->programs[fd] = Program{fd, cred.pid, cred.uid, {}, {}};
      ++st->counters.programs_seen;
      st->counters.programs = st->programs.size();
      st->rt->watch(fd, [st, fd](Cm& cm, Time now) {
        if (!serve(*st, cm, now, fd)) st->program_gone(cm, now, fd);
      });
    }
  });
  st->open_lobby(rt.cm());
  return std::unique_ptr<CmDaemon>(new CmDaemon(std::move(s)));
}

void CmDaemon::end_programs() {
  Cm& cm = s_->rt->cm();
  Time now = s_->rt->now();
  while (!s_->programs.empty()) s_->program_gone(cm, now, s_->programs.begin()->first);
}

CmDaemon::~CmDaemon() {
  end_programs();
  s_->close_lobby(s_->rt->cm());
  s_->close_sa();
  s_->rt->unwatch(s_->listen_fd);
  ::close(s_->listen_fd);
  ::unlink(s_->path.c_str());
}

void CmDaemon::on_event(Cm& cm, Time now, const Event& e) {
  s_->on_event(cm, now, e);
}

const DaemonCounters& CmDaemon::counters() const {
  s_->counters.ids_live = s_->ids.size();
  s_->counters.connections_live = s_->by_conn.size();
  s_->counters.listeners_live = s_->by_listen.size();
  return s_->counters;
}

void CmDaemon::set_log(std::function<void(const std::string&)> log) {
  s_->log = std::move(log);
}

}  // namespace ibcm::daemon
