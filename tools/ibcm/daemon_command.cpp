// ibcm daemon: the node's CM for rdma_cm programs (ibcm run, lib/ibcm/librdmacm.so.1).
#include <CLI/CLI.hpp>
#include <csignal>

#include "ibcm/commands.h"
#include "ibcm/daemon/cm_daemon.h"
#include "ibcm/verbs/device.h"
#include "ibcm/wire/print.h"
#include "session.h"

namespace ibcm::cli {

namespace {

struct DaemonOptions {
  SessionOptions s;
  std::string socket;
  int max_cm_retries = 15;
  int listen_grace_ms = 200;
};

volatile std::sig_atomic_t g_stop = 0;

int run_daemon(DaemonOptions o) {
  o.s.transport = "umad";
  auto session = Session::open(o.s, "daemon");
  if (!session) return 2;
  Session& s = *session;
  const umad::LocalPort& lp = s.device()->local_port();
  daemon::ServedPort port;
  port.device = lp.device;
  port.port_num = lp.port;
  port.link_layer = lp.link_layer == umad::LinkLayer::InfiniBand ? IBV_LINK_LAYER_INFINIBAND
                                                                 : IBV_LINK_LAYER_ETHERNET;
  port.pkey_index = lp.pkey_index;
  port.pkeys = lp.pkeys;
  port.gids = umad::read_gid_table(umad::kSysfsInfiniband, lp.device, lp.port);
  {
    auto verbs = verbs::libverbs();
    auto dev = verbs::Device::open(*verbs, lp.device, lp.port);
    if (!dev) {
      std::fprintf(stderr, "ibcm daemon: %s\n", dev.error().message.c_str());
      return 2;
    }
    port.active_mtu = dev->port().active_mtu;
  }
  std::string path = o.socket.empty() ? daemon::socket_path() : o.socket;
  daemon::DaemonConfig config;
  config.cm_response_timeout = static_cast<uint8_t>(o.s.cm_response_timeout);
  config.max_cm_retries = static_cast<uint8_t>(o.max_cm_retries);
  config.listen_grace = std::chrono::milliseconds(o.listen_grace_ms);
  auto d = daemon::CmDaemon::open(s.rt(), port, path, config);
  if (!d) {
    std::fprintf(stderr, "ibcm daemon: %s\n", d.error().c_str());
    return 2;
  }
  daemon::CmDaemon& cmd = **d;
  cmd.set_log([&](const std::string& line) {
    s.note(s.rt().now(), "daemon", "\"message\":" + wire::json_quote(line),
           "message=" + wire::text_value(line));
  });
  s.rt().on_event([&](Cm& cm, Time now, const Event& e) {
    if (o.s.json) s.print(now, e);
    cmd.on_event(cm, now, e);
  });
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGPIPE, SIG_IGN);
  s.note(
      s.rt().now(), "serving",
      "\"socket\":\"" + path + "\",\"device\":\"" + port.device +
          "\",\"port_num\":" + std::to_string(port.port_num),
      "socket=" + path + " device=" + port.device + " port_num=" + std::to_string(port.port_num));
  s.flush();
  while (!g_stop) {
    if (!s.rt().run_once(std::chrono::milliseconds(200))) return 2;
    s.flush();
  }
  // What the programs left behind when the daemon was told to stop, before it ends it.
  const daemon::DaemonCounters at_stop = cmd.counters();
  // Peers must not be left holding connections: the programs' connections end (DREQs) and one
  // more round sends them before the loop stops for good.
  cmd.end_programs();
  if (!s.rt().run_once(std::chrono::milliseconds(0))) return 2;
  s.flush();
  const daemon::DaemonCounters c = cmd.counters();
  std::vector<std::pair<std::string, uint64_t>> extra = {
      {"daemon.programs_live", at_stop.programs},
      {"daemon.ids_live", at_stop.ids_live},
      {"daemon.connections_live", at_stop.connections_live},
      {"daemon.listeners_live", at_stop.listeners_live},
      {"daemon.programs_seen", c.programs_seen},
      {"daemon.requests", c.requests},
      {"daemon.bad_requests", c.bad_requests},
      {"daemon.events", c.events},
      {"daemon.events_dropped", c.events_dropped},
      {"daemon.ended_by_exit", c.ended_by_exit},
      {"daemon.connects_refused", c.connects_refused},
      {"daemon.reqs_held", c.reqs_held},
      {"daemon.reqs_held_taken", c.reqs_held_taken},
      {"daemon.reqs_held_refused", c.reqs_held_refused},
      {"daemon.reqs_over_backlog", c.reqs_over_backlog}};
  d->reset();
  s.print_stats(extra);
  return 0;
}

}  // namespace

void add_daemon(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand(
      "daemon",
      "Serve rdma_cm programs on this node (ibcm run, lib/ibcm/librdmacm.so.1) as their CM");
  static DaemonOptions o;
  cmd->add_option("--device", o.s.device,
                  "the RDMA device (default: the first with an ACTIVE port)");
  cmd->add_option("--port-num", o.s.port_num, "its port (default: the first ACTIVE one)");
  add_umad_writes_flag(*cmd, o.s);
  cmd->add_option("--socket", o.socket,
                  "the socket programs connect to (default $IBCM_SOCKET, or /run/ibcm/cm.sock)");
  cmd->add_option("--cm-response-timeout", o.s.cm_response_timeout,
                  "CM response timeout exponent (4.096 us x 2^T) of the programs' connections, as "
                  "rdma_cm's (20)")
      ->check(CLI::Range(0, 31))
      ->capture_default_str();
  cmd->add_option("--max-reqs-in-flight", o.s.max_reqs_in_flight,
                  "REQs out to one peer and not yet answered, at most; the connects beyond wait "
                  "their turn (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--max-cm-retries", o.max_cm_retries,
                  "REQ/REP/DREQ retransmissions before giving up, as rdma_cm's (15)")
      ->check(CLI::Range(0, 15))
      ->capture_default_str();
  cmd->add_option("--listen-grace", o.listen_grace_ms,
                  "ms a REQ to a port nobody listens on waits for a listen before its REJ 8 (0: "
                  "at once, as the kernel CM)")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  cmd->add_flag("--json", o.s.json, "print the engine's events as JSON lines");
  cmd->add_flag("--stats", o.s.stats,
                "print the counters at exit (daemon.*_live: what programs held when it was told "
                "to stop)");
  cmd->callback([&run] { run = [] { return run_daemon(o); }; });
}

}  // namespace ibcm::cli
