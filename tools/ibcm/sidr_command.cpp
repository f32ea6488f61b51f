// ibcm sidr: resolve an rdma_cm UDP-port-space service to a UD QP (SIDR_REQ / SIDR_REP).
#include <CLI/CLI.hpp>

#include "device_qps.h"
#include "ibcm/commands.h"
#include "ibcm/transport/rdma_cm_params.h"
#include "ibcm/wire/rdma_cm.h"
#include "session.h"

namespace ibcm::cli {

namespace {

struct SidrOptions {
  SessionOptions s;
  double timeout = 30;
  DataOptions data;
};

int run_sidr(const SidrOptions& o) {
  auto session = Session::open(o.s, "sidr");
  if (!session) return 2;
  Session& s = *session;
  Runtime& rt = s.rt();
  std::unique_ptr<DeviceQps> device;
  if (o.data.messages > 0) {
    if (!s.device()) {
      std::fprintf(stderr, "ibcm sidr: --messages needs --transport umad (a real UD QP)\n");
      return 2;
    }
    device = DeviceQps::open(s, "sidr", o.data);
    if (!device || !device->open_datagram_qp(rt.now())) return 2;
  }
  bool done = false, ok = false, sending = false;
  rt.on_event([&](Cm&, Time now, const Event& e) {
    s.print(now, e);
    if (auto* r = std::get_if<ev::SidrRepReceived>(&e)) {
      ok = r->rep.status == wire::SidrStatus::Success;
      // With a device, the datagrams go to the QP and Q_Key the answer names, as udaddy's do.
      sending =
          ok && device && device->send_datagrams(now, s.remote_address(), r->rep.qpn, r->rep.qkey);
      ok = ok && (!device || sending);
      done = !sending;
    } else if (std::holds_alternative<ev::SidrTimeout>(e)) {
      done = true;
    }
  });
  std::array<uint8_t, 216> pd{};
  (void)rt.post([&](Cm& cm, Time now) {  // the first task: the queue is empty
    write_rdma_cm_header(s.local(), *s.remote(), 0, pd);
    SidrParams p;
    p.service_id = wire::rdma_cm::service_id(wire::rdma_cm::PortSpace::UDP, o.s.port);
    p.dest = s.remote_address();
    p.private_data = std::span<const uint8_t>(pd.data(), 36);
    if (!cm.sidr_request(now, p)) done = true;
  });
  Time deadline =
      rt.now() + std::chrono::duration_cast<Time>(std::chrono::duration<double>(o.timeout));
  while (!done && rt.now() < deadline) {
    if (!rt.run_once(std::chrono::milliseconds(200))) return 2;
    s.flush();
    if (s.report_send_error(rt.now())) break;  // one peer, and it cannot be reached
    if (sending && device->datagrams_done()) done = true;
  }
  if (device && !device->datagrams_done()) ok = false;
  ok = finish_session(s, device.get()) && ok;
  return ok ? 0 : 1;
}

}  // namespace

void add_sidr(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("sidr", "SIDR: resolve a UDP-port-space service to a UD QP");
  static SidrOptions o;
  add_session_options(*cmd, o.s, true);
  cmd->add_option("--timeout", o.timeout, "give up after this many seconds")->capture_default_str();
  add_data_options(*cmd, o.data);
  cmd->callback([&run] { run = [] { return run_sidr(o); }; });
}

}  // namespace ibcm::cli
