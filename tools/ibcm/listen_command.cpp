// ibcm listen: accept (or reject) rdma_cm connections on a port, answer DREQs, count endings.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <map>
#include <random>
#include <tuple>

#include "device_qps.h"
#include "ibcm/commands.h"
#include "ibcm/wire/rdma_cm.h"
#include "ibcm/wire/time.h"
#include "session.h"

namespace ibcm::cli {

namespace {

struct ListenOptions {
  SessionOptions s;
  int count = 0;
  std::string reject;
  bool mra = false;
  double mra_delay = 2.0;
  std::string qpn;
  double hold = -1;  // >= 0: disconnect (DREQ) this long after ESTABLISHED
  double timeout = 0;
  double linger = -1;  // >= 0: at most this long for the peers' retries once --count is reached
  DataOptions data;
  std::vector<std::string> mutations;
};

volatile std::sig_atomic_t g_interrupted = 0;

// A reason the spec defines (1..35 but 34), by number or by name.
std::optional<wire::RejReason> parse_reason(const std::string& s) {
  if (auto n = parse_number(s)) {
    auto r = static_cast<wire::RejReason>(*n);
    if (*n < 1 || *n > 35 || wire::to_string(r) == "?") return std::nullopt;
    return r;
  }
  for (int r = 1; r <= 35; ++r)
    if (wire::to_string(static_cast<wire::RejReason>(r)) == s)
      return static_cast<wire::RejReason>(r);
  return std::nullopt;
}

// How long after a message of ours the peer that sent `req` may still retry what that message
// answers (a DREQ whose DREP is lost, a REQ whose REJ is lost): its MaxCMRetries retries and
// the wait after the last, each two packet lifetimes (the REQ's local ACK timeout covers about
// two) and the CM response time it asked of us, as the spec times a retry. For Linux's rdma_cm
// (15 retries, 2 x 2^18 + 2^20 x 4.096 us) that is 16 x 6.4 s: about 103 s.
Time peer_retry_span(const wire::Req& req) {
  uint8_t plt = req.primary.local_ack_timeout > 0 ? req.primary.local_ack_timeout - 1 : 0;
  Time one = 2 * wire::cm_time(plt) + wire::cm_time(req.remote_cm_response_timeout);
  return (req.max_cm_retries + 1) * one;
}

int run_listen(ListenOptions o) {
  for (const auto& m : o.mutations)
    if (!parse_mutation(m, o.s.mutations)) {
      std::fprintf(stderr, "ibcm listen: unknown mutation '%s' (%s)\n", m.c_str(),
                   mutation_list().c_str());
      return 2;
    }
  std::optional<wire::RejReason> reject;
  if (!o.reject.empty()) {
    reject = parse_reason(o.reject);
    if (!reject) {
      std::fprintf(
          stderr,
          "ibcm listen: bad --reject '%s' (a reason number 1..35 but the reserved 34, or a "
          "name like ConsumerDefined)\n",
          o.reject.c_str());
      return 2;
    }
  }
  uint32_t next_qpn = 0x1000 + static_cast<uint32_t>(::getpid() % 0x1000) * 0x10;
  if (!o.qpn.empty()) {
    auto v = parse_number(o.qpn);
    if (!v || *v == 0 || *v > 0xFFFFFF) {
      std::fprintf(stderr, "ibcm listen: bad --qpn '%s'\n", o.qpn.c_str());
      return 2;
    }
    next_qpn = static_cast<uint32_t>(*v);
  }
  auto session = Session::open(o.s, "listen");
  if (!session) return 2;
  Session& s = *session;
  std::unique_ptr<DeviceQps> device;
  if (s.device()) {
    if (!o.qpn.empty()) {
      std::fprintf(stderr, "ibcm listen: --qpn is not for umad: the device names its QPs\n");
      return 2;
    }
    device = DeviceQps::open(s, "listen", o.data);
    if (!device) return 2;
  } else if (o.data.messages > 0) {
    std::fprintf(stderr, "ibcm listen: --messages needs --transport umad (real QPs)\n");
    return 2;
  }
  Runtime& rt = s.rt();
  int ended = 0;
  bool failed = false;
  std::mt19937 rng(std::random_device{}());
  std::map<ConnId, Time> accept_at;        // MRA sent: accept when the time comes
  std::map<ConnId, Time> disconnect_at;    // --hold: disconnect when the time comes
  std::map<ConnId, ev::ReqReceived> reqs;  // REQs not yet accepted (the device needs their path)
  std::map<ConnId, Time> retry_span;       // peer_retry_span of each connection's REQ
  // Once --count connections have ended, the listener stays until no peer can retry a message
  // it answered (a lost answer would otherwise leave the peer retrying into silence), or for
  // --linger at most.
  Time retries_over{0};           // when the last peer's retries are over
  Time reached_at = Time::max();  // when the count was reached
  bool lingering = false;
  auto answered = [&](Time now, ConnId c) {
    auto span = retry_span.find(c);
    if (span != retry_span.end()) retries_over = std::max(retries_over, now + span->second);
  };
  auto linger_end = [&] {
    return o.linger < 0
               ? retries_over
               : std::min(retries_over, reached_at + std::chrono::duration_cast<Time>(
                                                         std::chrono::duration<double>(o.linger)));
  };
  auto done = [&](Time now) {
    if (o.count <= 0 || ended < o.count) return false;
    reached_at = std::min(reached_at, now);
    return now >= linger_end();
  };

  auto accept = [&](Cm& cm, Time now, ConnId c) {
    AcceptParams ap;
    ap.psn = rng() & 0xFFFFFF;
    ap.responder_resources = 1;
    ap.initiator_depth = 1;
    auto req = reqs.extract(c);
    if (device) {
      if (!req.empty()) device->accept(cm, now, req.mapped(), ap);  // says why when it fails
      return;
    }
    ap.qpn = next_qpn++;
    auto r = cm.accept(now, c, ap);
    if (!r) s.note(now, "error", "\"error\":\"" + std::string(to_string(r.error())) + "\"", "");
  };
  auto hold = [&](Time now, ConnId c) {
    if (o.hold >= 0)
      disconnect_at[c] =
          now + std::chrono::duration_cast<Time>(std::chrono::duration<double>(o.hold));
  };
  if (device) device->on_data_done([&](Cm&, Time now, ConnId c) { hold(now, c); });

  rt.on_event([&](Cm& cm, Time now, const Event& e) {
    if (device) device->on_event(cm, now, e);
    s.print(now, e);
    if (auto* req = std::get_if<ev::ReqReceived>(&e)) {
      reqs.emplace(req->conn, *req);
      retry_span[req->conn] = peer_retry_span(req->req);
      if (reject) {
        reqs.erase(req->conn);
        cm.reject(now, req->conn, *reject);
        answered(now, req->conn);
        retry_span.erase(req->conn);
        ++ended;
      } else if (o.mra) {
        cm.send_mra(now, req->conn, 24);
        accept_at[req->conn] =
            now + std::chrono::duration_cast<Time>(std::chrono::duration<double>(o.mra_delay));
      } else {
        accept(cm, now, req->conn);
      }
    } else if (auto* est = std::get_if<ev::Established>(&e)) {
      if (!device) hold(now, est->conn);  // on a device: once its data is over
    } else if (auto* d = std::get_if<ev::DreqReceived>(&e)) {
      disconnect_at.erase(d->conn);
      cm.send_drep(now, d->conn);
      answered(now, d->conn);
    } else if (auto* lap = std::get_if<ev::LapReceived>(&e)) {
      // Without a device there is no QP to load the path into, so it is taken as loaded; a
      // device's QPs are not given alternate paths (no automatic path migration): unsupported.
      cm.send_apr(now, lap->conn, device ? wire::ApStatus::Unsupported : wire::ApStatus::Success);
    } else if (std::holds_alternative<ev::TimeWaitExit>(e)) {
      reqs.erase(event_conn(e));
      retry_span.erase(event_conn(e));
      ++ended;
    } else if (auto* rej = std::get_if<ev::RejReceived>(&e)) {
      reqs.erase(rej->conn);
      // A connection the REJ put in TIMEWAIT ends at its timewait_exit, counted there.
      if (cm.state(rej->conn) != State::TimeWait) ++ended;
    } else if (std::holds_alternative<ev::RepTimeout>(e)) {
      failed = true;
    } else if (auto* sr = std::get_if<ev::SidrReqReceived>(&e)) {
      SidrReplyParams rp;
      rp.qpn = next_qpn++;
      rp.qkey = 0x80010000;
      if (device) {  // a real UD QP, as udaddy's server answers
        auto qp = device->answer_sidr(now, sr->from);
        if (!qp) {
          rp = SidrReplyParams{};
          rp.status = wire::SidrStatus::NoQp;
        } else {
          std::tie(rp.qpn, rp.qkey) = *qp;
        }
      }
      cm.sidr_reply(now, sr->id, rp);
    }
    if (done(now)) rt.stop();
  });
  (void)rt.post([&](Cm& cm, Time now) {  // the first task: the queue is empty
    auto l = cm.listen(wire::rdma_cm::service_id(wire::rdma_cm::PortSpace::TCP, o.s.port));
    // SIDR comes in the UDP port space.
    auto l2 = cm.listen(wire::rdma_cm::service_id(wire::rdma_cm::PortSpace::UDP, o.s.port));
    if (!l || !l2) {
      s.note(now, "error", "\"error\":\"listen failed\"", "listen failed");
      failed = true;
      rt.stop();
      return;
    }
    s.note(
        now, "listening",
        "\"port\":" + std::to_string(o.s.port) + ",\"address\":\"" + s.local().to_string() + "\"",
        "port=" + std::to_string(o.s.port) + " address=" + s.local().to_string());
  });
  std::signal(SIGINT, [](int) { g_interrupted = 1; });
  std::signal(SIGTERM, [](int) { g_interrupted = 1; });
  Time deadline =
      o.timeout > 0
          ? rt.now() + std::chrono::duration_cast<Time>(std::chrono::duration<double>(o.timeout))
          : Time::max();
  bool stopped = false;
  bool sidr_counted = false;
  while (!g_interrupted && !done(rt.now()) && !stopped) {
    Time now = rt.now();
    if (o.count > 0 && ended >= o.count && !lingering) {
      lingering = true;  // the count is reached: only the peers' retries are waited for
      char t[32];
      std::snprintf(t, sizeof t, "%.3f", std::chrono::duration<double>(linger_end() - now).count());
      s.note(now, "lingering", std::string("\"seconds\":") + t, std::string("seconds=") + t);
    }
    if (now > deadline) {
      if (lingering) break;  // the work asked for is done
      s.note(now, "timeout", "", "");
      failed = true;
      break;
    }
    for (auto it = accept_at.begin(); it != accept_at.end();) {
      ConnId c = it->first;
      // A full task queue keeps the entry for the next round.
      if (it->second <= now && rt.post([&, c](Cm& cm, Time t) { accept(cm, t, c); })) {
        it = accept_at.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = disconnect_at.begin(); it != disconnect_at.end();) {
      ConnId c = it->first;
      auto disconnect = [&, c](Cm& cm, Time t) {
        (void)(device ? device->disconnect(cm, t, c) : cm.disconnect(t, c));
      };
      if (it->second <= now && rt.post(disconnect)) {
        it = disconnect_at.erase(it);
      } else {
        ++it;
      }
    }
    if (!rt.run_once(std::chrono::milliseconds(100))) return 2;
    s.flush();
    if (device && device->datagrams_done() && !sidr_counted) {  // a SIDR exchange is over
      sidr_counted = true;
      ++ended;
    }
    s.report_send_error(rt.now());  // one peer out of reach does not stop serving the others
    if (failed && o.count == 0) stopped = true;
  }
  failed = !finish_session(s, device.get()) || failed;
  return failed ? 1 : 0;
}

}  // namespace

void add_listen(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("listen", "Accept (or reject) rdma_cm connections on a port");
  static ListenOptions o;
  add_session_options(*cmd, o.s, false);
  cmd->add_option("--count", o.count,
                  "exit after N connections have ended and their peers cannot retry a DREQ or "
                  "REQ we answered any more (0: until interrupted)")
      ->capture_default_str();
  cmd->add_option("--linger", o.linger,
                  "once --count connections have ended, wait at most this many seconds for their "
                  "peers' retries (default: as long as their REQs say they may retry)");
  cmd->add_option("--reject", o.reject, "reject every REQ with this reason (number or name)");
  cmd->add_flag("--mra", o.mra, "answer each REQ with MRA first, accept after --mra-delay");
  cmd->add_option("--mra-delay", o.mra_delay, "seconds between MRA and REP")->capture_default_str();
  cmd->add_option("--hold", o.hold,
                  "disconnect (DREQ) each connection this many seconds after it is established "
                  "(default: wait for the peer's DREQ)");
  cmd->add_option("--qpn", o.qpn, "QPN for the first accepted connection (then +1 each)");
  cmd->add_option("--timeout", o.timeout,
                  "give up after this many seconds (0: never); once --count connections have "
                  "ended it only cuts short the wait for their peers' retries");
  add_data_options(*cmd, o.data);
  cmd->add_option("--mutation", o.mutations,
                  "break this engine rule on purpose, for testing a conformance tester such as "
                  "`ibcm probe` (" +
                      mutation_list() + ")");
  cmd->callback([&run] { run = [] { return run_listen(o); }; });
}

}  // namespace ibcm::cli
