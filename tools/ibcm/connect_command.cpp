// ibcm connect: REQ to an rdma_cm listener, hold the connection, disconnect, wait out TIMEWAIT.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <random>

#include "ibcm/commands.h"
#include "rdma_cm_params.h"
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
};

volatile std::sig_atomic_t g_interrupted = 0;

int run_connect(const ConnectOptions& o) {
  auto session = Session::open(o.s, "connect");
  if (!session) return 2;
  Session& s = *session;
  uint32_t qpn = 0x100 + static_cast<uint32_t>(::getpid() % 0xFF00);
  uint32_t psn = std::random_device{}() & 0xFFFFFF;
  if (!o.qpn.empty()) {
    auto v = parse_number(o.qpn);
    if (!v || *v == 0 || *v > 0xFFFFFF) {
      std::fprintf(stderr, "ibcm connect: bad --qpn '%s' (1..0xFFFFFF)\n", o.qpn.c_str());
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

  enum class Phase { Connecting, Holding, Disconnecting, WaitRetry, Done };
  Phase phase = Phase::Connecting;
  bool ok = false;
  int retries_left = o.retries;
  ConnId conn = 0;
  Time hold_until{0};
  std::array<uint8_t, 92> pd{};
  Runtime& rt = s.rt();
  auto fail = [&](Time now, const char* call, Error e) {
    std::fprintf(stderr, "ibcm connect: %s failed: %s\n", call, std::string(to_string(e)).c_str());
    s.note(now, "error", "\"error\":\"" + std::string(to_string(e)) + "\"",
           std::string(to_string(e)));
    ok = false;
    phase = Phase::Done;
    rt.stop();
  };

  auto start_connect = [&](Cm& cm, Time now) {
    ConnectParams p = rdma_cm_connect_params(s.local(), *s.remote(), o.s.port, qpn, psn, {}, pd);
    p.dest = s.remote_address();
    p.remote_cm_response_timeout = static_cast<uint8_t>(o.s.cm_response_timeout & 31);
    p.max_cm_retries = static_cast<uint8_t>(o.max_cm_retries);
    auto c = cm.connect(now, p);
    if (!c) return fail(now, "connect", c.error());
    conn = *c;
    phase = Phase::Connecting;
  };

  rt.on_event([&](Cm& cm, Time now, const Event& e) {
    s.print(now, e);
    if (event_conn(e) != conn) return;
    if (auto* rep = std::get_if<ev::RepReceived>(&e)) {
      (void)rep;
      cm.send_rtu(now, conn);
    } else if (std::holds_alternative<ev::Established>(e)) {
      phase = Phase::Holding;
      hold_until = now + std::chrono::duration_cast<Time>(std::chrono::duration<double>(o.hold));
    } else if (std::holds_alternative<ev::DreqReceived>(e)) {
      cm.send_drep(now, conn);
      phase = Phase::Disconnecting;
    } else if (auto* rej = std::get_if<ev::RejReceived>(&e)) {
      if (rej->rej.reason == wire::RejReason::StaleConnection && retries_left > 0) {
        --retries_left;
        phase = Phase::WaitRetry;  // the connection is in TIMEWAIT; retry when it ends
      } else {
        phase = Phase::Done;
        rt.stop();
      }
    } else if (std::holds_alternative<ev::TimeWaitExit>(e)) {
      if (phase == Phase::WaitRetry) {
        start_connect(cm, now);
      } else {
        ok = phase == Phase::Disconnecting;
        phase = Phase::Done;
        rt.stop();
      }
    } else if (std::holds_alternative<ev::ReqTimeout>(e) ||
               std::holds_alternative<ev::Aborted>(e)) {
      phase = Phase::Done;
      rt.stop();
    }
  });

  if (auto r = rt.post([&](Cm& cm, Time now) { start_connect(cm, now); }); !r)
    fail(rt.now(), "connect", r.error());
  std::signal(SIGINT, [](int) { g_interrupted = 1; });
  std::signal(SIGTERM, [](int) { g_interrupted = 1; });
  Time deadline =
      rt.now() + std::chrono::duration_cast<Time>(std::chrono::duration<double>(o.timeout));
  while (phase != Phase::Done) {
    Time now = rt.now();
    if (g_interrupted || now > deadline) {
      s.note(now, g_interrupted ? "interrupted" : "timeout", "", "");
      break;
    }
    if (phase == Phase::Holding && now >= hold_until) {
      if (o.no_disconnect) {
        // As if the process died: no DREQ, nothing more on the wire.
        ok = true;
        s.note(now, "exit_without_disconnect", "\"local_comm_id\":" + std::to_string(conn),
               "local_comm_id=" + std::to_string(conn));
        break;
      }
      // Asked once: the DREP (or dreq_timeout) ends the connection, and a failure ends the run.
      phase = Phase::Disconnecting;
      auto disconnect = [&](Cm& cm, Time t) {
        if (auto r = cm.disconnect(t, conn); !r) fail(t, "disconnect", r.error());
      };
      if (auto r = rt.post(disconnect); !r) fail(now, "disconnect", r.error());
    }
    auto wait = std::chrono::milliseconds(200);
    if (phase == Phase::Holding)
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::max(Time{0}, hold_until - now)) +
                                std::chrono::milliseconds(1));
    if (!rt.run_once(wait)) return 2;
    if (s.report_send_error(rt.now())) break;  // one peer, and it cannot be reached
  }
  s.print_stats();
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
  cmd->add_option("--hold", o.hold, "seconds to hold the connection")->capture_default_str();
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
  cmd->add_option("--max-cm-retries", o.max_cm_retries,
                  "REQ/REP/DREQ retransmissions before giving up (MaxCMRetries)")
      ->check(CLI::Range(0, 15))
      ->capture_default_str();
  cmd->add_option("--timeout", o.timeout, "give up after this many seconds")->capture_default_str();
  cmd->callback([&run] { run = [] { return run_connect(o); }; });
}

}  // namespace ibcm::cli
