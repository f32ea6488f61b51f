// ibcm connect: REQ to an rdma_cm listener, hold the connection, disconnect, wait out TIMEWAIT.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <map>
#include <random>

#include "device_qps.h"
#include "ibcm/commands.h"
#include "ibcm/transport/rdma_cm_params.h"
#include "session.h"

namespace ibcm::cli {

namespace {

struct ConnectOptions {
  SessionOptions s;
  std::string qpn;
  std::string psn;
  double hold = 0;
  bool no_disconnect = false;
  int retries = 0;
  int max_cm_retries = 15;
  double timeout = 300;
  int connections = 1;
  DataOptions data;
};

volatile std::sig_atomic_t g_interrupted = 0;

// One of the --connections: its connection (a new one after each retry) and where it stands.
enum class Phase { Connecting, Exchanging, Holding, Disconnecting, WaitRetry, Done };
struct Attempt {
  ConnId conn = 0;
  Phase phase = Phase::Connecting;
  Time hold_until{0};
  int retries_left = 0;
  bool ok = false;
};

int run_connect(const ConnectOptions& o) {
  auto session = Session::open(o.s, "connect");
  if (!session) return 2;
  Session& s = *session;
  const bool on_device = s.device() != nullptr;
  if (!on_device && o.data.messages > 0) {
    std::fprintf(stderr, "ibcm connect: --messages needs --transport umad (real QPs)\n");
    return 2;
  }
  uint32_t qpn = 0x100 + static_cast<uint32_t>(::getpid() % 0xFF00);
  uint32_t psn = std::random_device{}() & 0xFFFFFF;
  if (!o.qpn.empty()) {
    auto v = parse_number(o.qpn);
    if (!v || *v == 0 || *v > 0xFFFFFF || (on_device)) {
      std::fprintf(stderr,
                   "ibcm connect: bad --qpn '%s' (1..0xFFFFFF; not with umad: the "
                   "device names its QPs)\n",
                   o.qpn.c_str());
      return 2;
    }
    qpn = static_cast<uint32_t>(*v);
  }
  if (!o.psn.empty()) {
    auto v = parse_number(o.psn);
    if (!v || *v > 0xFFFFFF) {
      std::fprintf(stderr, "ibcm connect: bad --psn '%s'\n", o.psn.c_str());
      return 2;
    }
    psn = static_cast<uint32_t>(*v);
  }
  std::unique_ptr<DeviceQps> device;
  if (on_device) {
    device = DeviceQps::open(s, "connect", o.data);
    if (!device) return 2;
  }

  std::vector<Attempt> attempts(static_cast<size_t>(o.connections));
  for (Attempt& a : attempts) a.retries_left = o.retries;
  std::map<ConnId, size_t> by_conn;
  std::array<uint8_t, 92> pd{};
  Runtime& rt = s.rt();
  const Time hold = std::chrono::duration_cast<Time>(std::chrono::duration<double>(o.hold));
  auto done = [&](Attempt& a, bool ok) {
    a.ok = ok;
    a.phase = Phase::Done;
  };
  auto fail = [&](Time now, Attempt& a, const char* call, Error e) {
    std::fprintf(stderr, "ibcm connect: %s failed: %s\n", call, std::string(to_string(e)).c_str());
    s.note(now, "error", "\"error\":\"" + std::string(to_string(e)) + "\"",
           std::string(to_string(e)));
    done(a, false);
  };

  auto start_connect = [&](Cm& cm, Time now, size_t i) {
    Attempt& a = attempts[i];
    uint32_t n = static_cast<uint32_t>(i);
    ConnectParams p = rdma_cm_connect_params(s.local(), *s.remote(), o.s.port,
                                             static_cast<uint16_t>(0x8000 | ((qpn + n) & 0x7fff)),
                                             (qpn + n) & 0xFFFFFF, psn, {}, pd);
    p.dest = s.remote_address();
    p.remote_cm_response_timeout = static_cast<uint8_t>(o.s.cm_response_timeout & 31);
    p.max_cm_retries = static_cast<uint8_t>(o.max_cm_retries);
    if (device) {
      auto c = device->connect(cm, now, p);  // says why when it fails
      if (!c) return done(a, false);
      a.conn = *c;
    } else {
      auto c = cm.connect(now, p);
      if (!c) return fail(now, a, "connect", c.error());
      a.conn = *c;
    }
    by_conn[a.conn] = i;
    a.phase = Phase::Connecting;
  };
  // The hold starts once every connection is up (or over), as an rdma_cm client such as
  // ucmatose connects them all before it disconnects any: N connections are open at once, and a
  // peer still accepting is not also handling disconnects.
  constexpr Time kNotYet = Time::max();
  auto holding = [&](Attempt& a, Time) {
    a.phase = Phase::Holding;
    a.hold_until = kNotYet;
  };
  if (device)
    device->on_data_done([&](Cm&, Time now, ConnId c) {
      if (auto it = by_conn.find(c); it != by_conn.end()) holding(attempts[it->second], now);
    });

  // How fast the connections came up, QP creation and transitions included: from the first
  // connect call to the last `established`.
  Time first_connect{0}, last_established{0};
  size_t established = 0;
  rt.on_event([&](Cm& cm, Time now, const Event& e) {
    if (device) device->on_event(cm, now, e);
    s.print(now, e);
    auto it = by_conn.find(event_conn(e));
    if (it == by_conn.end()) return;
    Attempt& a = attempts[it->second];
    if (std::holds_alternative<ev::RepReceived>(e)) {
      // The QP is in RTS now (unless it failed and the REP was rejected).
      if (State st = cm.state(a.conn).value_or(State::Idle);
          st == State::RepRcvd || st == State::MraRepSent)
        cm.send_rtu(now, a.conn);
    } else if (std::holds_alternative<ev::Established>(e)) {
      ++established;
      last_established = now;
      if (device) {
        if (a.phase == Phase::Connecting) a.phase = Phase::Exchanging;  // until on_data_done
      } else {
        holding(a, now);
      }
    } else if (std::holds_alternative<ev::DreqReceived>(e)) {
      cm.send_drep(now, a.conn);
      a.phase = Phase::Disconnecting;
    } else if (auto* rej = std::get_if<ev::RejReceived>(&e)) {
      if (rej->rej.reason == wire::RejReason::StaleConnection && a.retries_left > 0) {
        --a.retries_left;
        if (device) {
          // The rejected connection keeps its QP (and QPN) through its TIMEWAIT; the retry gets
          // a new QP at once, as an rdma_cm application reconnects.
          by_conn.erase(it);
          start_connect(cm, now, static_cast<size_t>(&a - attempts.data()));
        } else {
          a.phase = Phase::WaitRetry;  // the same QPN: retry once its TIMEWAIT is over
        }
      } else {
        done(a, false);
      }
    } else if (std::holds_alternative<ev::TimeWaitExit>(e)) {
      by_conn.erase(it);
      if (a.phase == Phase::WaitRetry) {
        start_connect(cm, now, static_cast<size_t>(&a - attempts.data()));
      } else {
        done(a, a.phase == Phase::Disconnecting);
      }
    } else if (std::holds_alternative<ev::ReqTimeout>(e) ||
               std::holds_alternative<ev::Aborted>(e)) {
      done(a, false);
    }
  });
  (void)rt.post([&](Cm& cm, Time now) {  // the first task: the queue is empty
    first_connect = now;
    for (size_t i = 0; i < attempts.size(); ++i) start_connect(cm, now, i);
  });
  std::signal(SIGINT, [](int) { g_interrupted = 1; });
  std::signal(SIGTERM, [](int) { g_interrupted = 1; });
  Time deadline =
      rt.now() + std::chrono::duration_cast<Time>(std::chrono::duration<double>(o.timeout));
  auto all = [&](auto pred) { return std::all_of(attempts.begin(), attempts.end(), pred); };
  bool ended_early = false;
  while (!all([](const Attempt& a) { return a.phase == Phase::Done; })) {
    Time now = rt.now();
    if (g_interrupted || now > deadline) {
      s.note(now, g_interrupted ? "interrupted" : "timeout", "", "");
      ended_early = true;
      break;
    }
    Time wake = now + std::chrono::milliseconds(200);
    if (all([](const Attempt& a) {
          return a.phase == Phase::Holding || a.phase == Phase::Disconnecting ||
                 a.phase == Phase::Done;
        }))
      for (Attempt& a : attempts)
        if (a.phase == Phase::Holding && a.hold_until == kNotYet) a.hold_until = now + hold;
    if (o.no_disconnect) {
      // As if the process died once every connection has been held: no DREQ, nothing more.
      if (all([&](const Attempt& a) {
            return a.phase == Phase::Done || (a.phase == Phase::Holding && now >= a.hold_until);
          })) {
        for (Attempt& a : attempts)
          if (a.phase == Phase::Holding) {
            s.note(now, "exit_without_disconnect", comm_id_json(a.conn), comm_id_text(a.conn));
            done(a, true);
          }
        break;
      }
    }
    for (Attempt& a : attempts) {
      if (a.phase != Phase::Holding) continue;
      if (now < a.hold_until) {
        wake = std::min(wake, a.hold_until);
        continue;
      }
      if (o.no_disconnect) continue;
      // Asked once: the DREP (or dreq_timeout) ends the connection, and a failure ends it too.
      a.phase = Phase::Disconnecting;
      Attempt* ap = &a;
      auto disconnect = [&, ap](Cm& cm, Time t) {
        auto r = device ? device->disconnect(cm, t, ap->conn) : cm.disconnect(t, ap->conn);
        if (!r) fail(t, *ap, "disconnect", r.error());
      };
      if (auto r = rt.post(disconnect); !r) fail(now, a, "disconnect", r.error());
    }
    auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::max(Time{0}, wake - now)) +
        std::chrono::milliseconds(1);
    if (!rt.run_once(wait)) return 2;
    s.flush();
    if (s.report_send_error(rt.now())) {  // one peer, and it cannot be reached
      ended_early = true;
      break;
    }
  }
  if (established > 0) {
    double secs = s.seconds(last_established - first_connect);
    char sec[32], rate[32];
    std::snprintf(sec, sizeof sec, "%.6f", secs);
    std::snprintf(rate, sizeof rate, "%.1f",
                  secs > 0 ? static_cast<double>(established) / secs : 0);
    std::string n = std::to_string(attempts.size()), up = std::to_string(established);
    s.note(rt.now(), "connect_summary",
           "\"connections\":" + n + ",\"established\":" + up + ",\"seconds\":" + sec +
               ",\"per_second\":" + rate,
           "connections=" + n + " established=" + up + " seconds=" + std::string(sec) +
               " per_second=" + rate);
  }
  bool ok = !ended_early && all([](const Attempt& a) { return a.ok; });
  ok = finish_session(s, device.get()) && ok;
  return ok ? 0 : 1;
}

}  // namespace

void add_connect(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("connect",
                                 "Connect to an rdma_cm listener (REQ/REP/RTU), hold, disconnect");
  static ConnectOptions o;
  add_session_options(*cmd, o.s, true);
  cmd->add_option("--qpn", o.qpn, "our QP number (the consumer's QP; default from the PID)");
  cmd->add_option("--psn", o.psn, "our starting PSN (default random)");
  cmd->add_option("--hold", o.hold, "seconds to hold the connections once all are up")
      ->capture_default_str();
  cmd->add_flag("--no-disconnect", o.no_disconnect,
                "after the hold, exit without sending anything (as if the process died)");
  cmd->add_option("--retries", o.retries,
                  "after REJ 10 (stale), retry this many times once TIMEWAIT ends")
      ->capture_default_str();
  cmd->add_option("--cm-response-timeout", o.s.cm_response_timeout,
                  "CM response timeout exponent (4.096 us x 2^T) for both sides, as in the REQ; "
                  "with the packet lifetime it sets the REQ and DREQ retry interval")
      ->check(CLI::Range(0, 31))
      ->capture_default_str();
  cmd->add_option("--max-reqs-in-flight", o.s.max_reqs_in_flight,
                  "REQs out to one peer and not yet answered, at most; the connects beyond wait "
                  "their turn (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--max-cm-retries", o.max_cm_retries,
                  "REQ/REP/DREQ retransmissions before giving up (MaxCMRetries)")
      ->check(CLI::Range(0, 15))
      ->capture_default_str();
  cmd->add_option("--timeout", o.timeout, "give up after this many seconds")->capture_default_str();
  cmd->add_option("--connections", o.connections, "connections to open, each its own QP")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  add_data_options(*cmd, o.data);
  cmd->callback([&run] { run = [] { return run_connect(o); }; });
}

}  // namespace ibcm::cli
