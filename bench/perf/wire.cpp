// Over the wire: two processes on loopback, each a Runtime (epoll, timerfd, the engine) on a real
// transport. The active process keeps `window` handshakes in flight and starts a new one each
// time one reaches ESTABLISHED; the passive one accepts every REQ. The raw baseline moves 256-byte
// datagrams between the same two processes through the same transports with the same batching
// (up to 256 per receive, the transport's sendmmsg batches): the active side keeps `window` in
// flight and sends one back for each one received; the passive side echoes. Each phase gets
// fresh sockets and a fresh passive process. Rates are counted per second of wall-clock time and
// per second of CPU time of both processes (user + system, the kernel's datagram work included):
// on a machine shared with other work the second is the steadier one.
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "fixture/nodes.h"
#include "ibcm/transport/roce_transport.h"
#include "ibcm/transport/runtime.h"
#include "ibcm/transport/udp_transport.h"
#include "perf/perf.h"

namespace ibcm::perf {

namespace {

constexpr uint64_t kService = 0x1000000000001234ull;
constexpr size_t kRxBatch = Runtime::kReceiveBatch;  // as the Runtime receives
constexpr double kStallSeconds = 3;

struct Pair {
  std::unique_ptr<Transport> active, passive;  // the parent's, the child's
  Address active_address, passive_address;     // where each is reached
};

Expected<Pair, std::string> open_pair(WireKind kind) {
  Pair p;
  if (kind == WireKind::Udp) {
    auto a = UdpTransport::open(*parse_endpoint("127.0.0.1", 0));
    if (!a) return Unexpected{a.error()};
    auto b = UdpTransport::open(*parse_endpoint("127.0.0.1", 0));
    if (!b) return Unexpected{b.error()};
    p.active_address = address_of((*a)->endpoint());
    p.passive_address = address_of((*b)->endpoint());
    p.active = std::move(*a);
    p.passive = std::move(*b);
    return p;
  }
  // Two loopback addresses of their own, so nothing else on this host's port 4791 is disturbed.
  auto a = RoceTransport::open(*parse_endpoint("127.0.90.1", 0), {});
  if (!a) return Unexpected{a.error()};
  auto b = RoceTransport::open(*parse_endpoint("127.0.90.2", 0), {});
  if (!b) return Unexpected{b.error()};
  p.active_address = (*a)->local();
  p.passive_address = (*b)->local();
  p.active = std::move(*a);
  p.passive = std::move(*b);
  return p;
}

// Room for the connections a phase makes (they are never torn down): the phase measures the
// wire path, not the tables growing (the scale measurement has those at every size).
constexpr uint32_t kExpectedConnections = 1u << 19;

Config config_of(uint8_t n) {
  Config c;
  c.ca_guid = 0x0002c90300000000ull | n;
  c.seed = 2000 + n;
  c.expected_connections = kExpectedConnections;
  return c;
}

// A passive process: runs body(ctrl) and exits with its result. The parent ends it by closing
// its end of ctrl; the child also dies with the parent.
struct Child {
  pid_t pid = -1;
  int ctrl = -1;
};

template <class F>
Child spawn(F&& body) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return {};
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    return {};
  }
  if (pid == 0) {
    ::close(sv[0]);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int rc = body(sv[1]);
    ::_exit(rc);
  }
  ::close(sv[1]);
  return {pid, sv[0]};
}

// Waits (up to 10 s) for the child to say it is ready.
bool wait_ready(const Child& c) {
  pollfd p{c.ctrl, POLLIN, 0};
  if (::poll(&p, 1, 10000) != 1) return false;
  char b;
  return ::read(c.ctrl, &b, 1) == 1;
}

double cpu_seconds(const rusage& u) {
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return cpu_seconds(u);
}

// Ends the child; returns the CPU time (user + system) it used in its life.
double finish(Child& c) {
  double cpu = 0;
  if (c.ctrl >= 0) ::close(c.ctrl);
  if (c.pid > 0) {
    int status = 0;
    rusage u{};
    if (::wait4(c.pid, &status, 0, &u) == c.pid) cpu = cpu_seconds(u);
  }
  c = {};
  return cpu;
}

// One measured phase: its rate in wall-clock time and per CPU second of both processes.
struct Phase {
  uint64_t done = 0;
  double wall_rate = 0;  // 0 if it stalled
  double cpu_rate = 0;
};
Phase phase_result(uint64_t done, double wall_s, double cpu_s, bool ok) {
  Phase r;
  r.done = done;
  if (ok && wall_s > 0 && cpu_s > 0) {
    r.wall_rate = static_cast<double>(done) / wall_s;
    r.cpu_rate = static_cast<double>(done) / cpu_s;
  }
  return r;
}

bool send_byte(int ctrl, char b) {
  return ::write(ctrl, &b, 1) == 1;
}
void say_ready(int ctrl) {
  send_byte(ctrl, 'r');
}
// Reads a child's report, a T (up to 1 s).
template <class T>
bool read_report(int ctrl, T* r) {
  pollfd p{ctrl, POLLIN, 0};
  return ::poll(&p, 1, 1000) == 1 && ::read(ctrl, r, sizeof *r) == sizeof *r;
}

bool ctrl_readable(int ctrl) {  // a command, or the parent gone (EOF)
  pollfd p{ctrl, POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;
}

// --- raw round trips ---

int echo(Transport& t, int ctrl) {
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (int fd : {t.fd(), ctrl}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  std::vector<Received> rx(kRxBatch);
  std::vector<Transmit> tx;
  tx.reserve(kRxBatch);
  say_ready(ctrl);
  for (;;) {
    epoll_event evs[2];
    int n = ::epoll_wait(ep, evs, 2, 1000);
    for (int i = 0; i < n; ++i)
      if (evs[i].data.fd == ctrl) return 0;
    for (;;) {
      size_t got = t.receive(rx);
      tx.clear();
      for (size_t i = 0; i < got; ++i) tx.push_back(Transmit{rx[i].from, rx[i].mad});
      if (!tx.empty()) t.send(tx);
      if (got < rx.size()) break;
    }
  }
}

// The active side of the raw phase. Each of the `window` datagrams in flight names its slot and a
// generation; a slot whose datagram has not come back within kRawLossAfter is sent again with the
// next generation (a late copy of the old one is then ignored), so that a datagram lost on the way
// (a raw RoCE socket also queues every other UDP packet of the host, and overflows under load)
// does not shrink the window for the rest of the phase and make the baseline slower than the
// transport is. Only the datagrams that came back in their generation count.
constexpr double kRawLossAfter = 0.02;

Phase raw_round_trips(Pair p, double seconds, size_t window, uint64_t* resent) {
  Transport* passive = p.passive.get();
  Child c = spawn([&](int ctrl) {
    p.active.reset();
    return echo(*passive, ctrl);
  });
  p.passive.reset();
  if (c.pid < 0 || !wait_ready(c)) {
    finish(c);
    return {};
  }
  const double cpu0 = process_cpu_seconds();
  Transport& t = *p.active;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = t.fd();
  ::epoll_ctl(ep, EPOLL_CTL_ADD, t.fd(), &ev);
  std::vector<Received> rx(kRxBatch);
  std::vector<Transmit> tx;
  tx.reserve(std::max(window, kRxBatch));
  struct Slot {
    uint32_t gen = 0;
    double sent = 0;
  };
  std::vector<Slot> slots(window);
  auto queue = [&](uint32_t slot, double now) {
    Transmit& out = tx.emplace_back(Transmit{p.passive_address, wire::MadBytes{}});
    const uint32_t gen = ++slots[slot].gen;
    std::memcpy(out.mad.data(), &slot, sizeof slot);
    std::memcpy(out.mad.data() + 4, &gen, sizeof gen);
    slots[slot].sent = now;
  };
  uint64_t done = 0, seen = 0;
  double start = wall_seconds(), end = start + seconds, last = start, now = start, checked = start;
  for (uint32_t i = 0; i < window; ++i) queue(i, now);
  t.send(tx);
  while (now < end && now - last < kStallSeconds) {
    epoll_event evs[1];
    ::epoll_wait(ep, evs, 1, 10);
    for (;;) {
      size_t got = t.receive(rx);
      now = wall_seconds();
      tx.clear();
      for (size_t i = 0; i < got; ++i) {
        uint32_t slot, gen;
        std::memcpy(&slot, rx[i].mad.data(), sizeof slot);
        std::memcpy(&gen, rx[i].mad.data() + 4, sizeof gen);
        if (slot >= window || slots[slot].gen != gen) continue;  // a late copy
        ++done;
        queue(slot, now);
      }
      if (!tx.empty()) t.send(tx);
      if (got < rx.size()) break;
    }
    now = wall_seconds();
    if (done != seen) {
      seen = done;
      last = now;
    }
    if (now - checked >= kRawLossAfter) {
      checked = now;
      tx.clear();
      for (uint32_t i = 0; i < window; ++i)
        if (now - slots[i].sent >= kRawLossAfter) queue(i, now);
      *resent += tx.size();
      if (!tx.empty()) t.send(tx);
    }
  }
  ::close(ep);
  const double cpu = process_cpu_seconds() - cpu0;
  return phase_result(done, now - start, cpu + finish(c), now - last < kStallSeconds);
}

// --- handshakes ---

// One CM of a handshake phase: it accepts every REQ, and while `connecting` keeps `window`
// handshakes of its own in flight, starting the next one each time it sends an RTU. Its own
// connections use local QPNs from 1 up, the ones it accepts the REQ's QPN with bit 23 set.
class Side {
 public:
  Side(uint8_t n, std::unique_ptr<Transport> t, const Address& peer, size_t window)
      : rt_(config_of(n), std::move(t)),
        cp_(fixture::connect_params(rt_.cm().config().local, peer, 0, kService)),
        window_(window) {
    // A MAD lost on loopback (a full socket queue under load) is sent again after about 140 ms, not
    // the 6 s of the defaults, so that it does not take a handshake out of the window for the rest
    // of the phase (the raw phase resends its lost datagrams too).
    cp_.packet_life_time = 8;
    cp_.remote_cm_response_timeout = 15;
    rt_.on_event([this](Cm& cm, Time now, const Event& e) { on_event(cm, now, e); });
    rt_.post([](Cm& cm, Time) { cm.listen(kService); });
    rt_.run_once(std::chrono::milliseconds(0));
  }
  // Starts `window` handshakes (none if window is 0: this side only accepts).
  void start() {
    connecting_ = window_ > 0;
    rt_.post([this](Cm& cm, Time now) {
      for (size_t i = 0; i < window_; ++i) connect(cm, now);
    });
  }
  void stop() { connecting_ = false; }
  bool run_once(std::chrono::milliseconds wait) { return rt_.run_once(wait); }
  uint64_t done() const { return done_; }  // own handshakes completed: RTUs sent
  bool exhausted() const { return next_qpn_ >= kPassiveQpnBit; }

 private:
  static constexpr uint32_t kPassiveQpnBit = 0x800000;
  void connect(Cm& cm, Time now) {
    if (exhausted()) return;
    cp_.qpn = next_qpn_++;
    cm.connect(now, cp_);
  }
  void on_event(Cm& cm, Time now, const Event& e) {
    if (auto* req = std::get_if<ev::ReqReceived>(&e)) {
      AcceptParams ap;
      ap.qpn = req->req.local_qpn | kPassiveQpnBit;
      ap.psn = 0x777;
      cm.accept(now, req->conn, ap);
    } else if (auto* rep = std::get_if<ev::RepReceived>(&e)) {
      if (!cm.send_rtu(now, rep->conn)) return;
      ++done_;
      if (connecting_) connect(cm, now);
    }
  }

  Runtime rt_;
  ConnectParams cp_;
  size_t window_;
  uint32_t next_qpn_ = 1;
  uint64_t done_ = 0;
  bool connecting_ = false;
};

// The child's side of a handshake phase, driven over ctrl: it says it is ready, starts on 'g',
// stops starting handshakes on 's' and answers with how many of its own it completed and the CPU
// time it used in between (its set-up is not the phase's), and exits when the parent closes ctrl.
struct ChildReport {
  uint64_t done = 0;
  double cpu_s = 0;
};
int child_side(std::unique_ptr<Transport> t, const Address& peer, size_t window, int ctrl) {
  Side side(2, std::move(t), peer, window);
  say_ready(ctrl);
  double checked = wall_seconds(), cpu0 = 0;
  for (;;) {
    side.run_once(std::chrono::milliseconds(10));
    double now = wall_seconds();
    if (now - checked < 0.005) continue;
    checked = now;
    if (!ctrl_readable(ctrl)) continue;
    char cmd = 0;
    if (::read(ctrl, &cmd, 1) != 1) return 0;
    if (cmd == 'g') {
      cpu0 = process_cpu_seconds();
      side.start();
    }
    if (cmd == 's') {
      side.stop();
      const ChildReport r{side.done(), process_cpu_seconds() - cpu0};
      if (::write(ctrl, &r, sizeof r) != sizeof r) return 1;
    }
  }
}

// Handshakes from the parent's side, and also from the child's when both_ways: `window` in
// flight in all, split between the two. Counted: handshakes completed (RTU sent) by both sides
// between the parent's 'g' and 's'.
Phase handshakes(Pair p, double seconds, size_t window, bool both_ways) {
  const size_t child_window = both_ways ? window / 2 : 0;
  const size_t own_window = window - child_window;
  const Address parent_address = p.active_address;
  Child c = spawn([&](int ctrl) {
    p.active.reset();
    return child_side(std::move(p.passive), parent_address, child_window, ctrl);
  });
  p.passive.reset();
  if (c.pid < 0 || !wait_ready(c)) {
    finish(c);
    return {};
  }
  Side side(1, std::move(p.active), p.passive_address, own_window);
  const double cpu0 = process_cpu_seconds();
  const double start = wall_seconds(), end = start + seconds;
  double last = start, now = start;
  uint64_t seen = 0;
  bool ok = send_byte(c.ctrl, 'g');
  side.start();
  while (ok && now < end && now - last < kStallSeconds && !side.exhausted()) {
    side.run_once(std::chrono::milliseconds(100));
    now = wall_seconds();
    if (side.done() != seen) {
      seen = side.done();
      last = now;
    }
  }
  side.stop();
  ChildReport child;
  ok = ok && now - last < kStallSeconds && send_byte(c.ctrl, 's') && read_report(c.ctrl, &child);
  const double cpu = process_cpu_seconds() - cpu0;
  finish(c);
  return phase_result(side.done() + child.done, now - start, cpu + child.cpu_s, ok);
}

}  // namespace

WireResult measure_wire(WireKind kind, double seconds, int rounds, size_t window) {
  WireResult r;
  r.kind = kind;
  r.window = window;
  // Each round's handshake phases over its own raw phase, so that a slow spell of the machine
  // moves both sides of a ratio alike.
  std::vector<double> raw_wall, raw_cpu, both_wall, both_cpu, one_wall, one_cpu;
  std::vector<double> ratio, cpu_ratio, one_ratio, one_cpu_ratio;
  for (int i = 0; i < rounds; ++i) {
    Phase m[3];
    for (int phase = 0; phase < 3; ++phase) {
      auto pair = open_pair(kind);
      if (!pair) {
        r.skipped = pair.error();
        return r;
      }
      m[phase] = phase == 0 ? raw_round_trips(std::move(*pair), seconds, window, &r.raw_resent)
                            : handshakes(std::move(*pair), seconds, window, phase == 1);
      if (m[phase].wall_rate <= 0) {
        r.skipped = "a phase stalled (no progress for 3 s)";
        return r;
      }
    }
    r.round_trips.count += m[0].done;
    r.handshakes.count += m[1].done;
    r.one_way.count += m[2].done;
    raw_wall.push_back(m[0].wall_rate);
    raw_cpu.push_back(m[0].cpu_rate);
    both_wall.push_back(m[1].wall_rate);
    both_cpu.push_back(m[1].cpu_rate);
    one_wall.push_back(m[2].wall_rate);
    one_cpu.push_back(m[2].cpu_rate);
    ratio.push_back(m[1].wall_rate / m[0].wall_rate);
    cpu_ratio.push_back(m[1].cpu_rate / m[0].cpu_rate);
    one_ratio.push_back(m[2].wall_rate / m[0].wall_rate);
    one_cpu_ratio.push_back(m[2].cpu_rate / m[0].cpu_rate);
  }
  auto median = [](std::vector<double> v) { return spread_of(std::move(v)).median; };
  r.round_trips.per_s = median(raw_wall);
  r.round_trips.per_cpu_s = median(raw_cpu);
  r.handshakes.per_s = median(both_wall);
  r.handshakes.per_cpu_s = median(both_cpu);
  r.one_way.per_s = median(one_wall);
  r.one_way.per_cpu_s = median(one_cpu);
  r.ratio = spread_of(std::move(ratio));
  r.cpu_ratio = spread_of(std::move(cpu_ratio));
  r.one_way_ratio = spread_of(std::move(one_ratio));
  r.one_way_cpu_ratio = spread_of(std::move(one_cpu_ratio));
  r.ran = rounds > 0;
  if (!r.ran) r.skipped = "no rounds";
  return r;
}

}  // namespace ibcm::perf
