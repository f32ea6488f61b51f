#include "session.h"

#include <sys/random.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>

#include "ibcm/sim/random_run.h"
#include "ibcm/text/event_json.h"
#include "ibcm/transport/roce_transport.h"
#include "ibcm/transport/udp_transport.h"
#include "ibcm/wire/print.h"
#include "ibcm/wire/roce.h"

namespace ibcm::cli {

std::optional<uint64_t> parse_number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  uint64_t v = std::strtoull(s.c_str(), &end, 0);
  if (*end != '\0') return std::nullopt;
  return v;
}

bool parse_mutation(const std::string& name, uint32_t& bits) {
  for (const auto& m : sim::mutation_names())
    if (m.name == name) {
      bits |= static_cast<uint32_t>(m.mutation);
      return true;
    }
  return false;
}

std::string mutation_list() {
  std::string names;
  for (const auto& m : sim::mutation_names())
    names += (names.empty() ? "" : ", ") + std::string(m.name);
  return names;
}

namespace {

// Comm IDs must not be predictable (an off-path peer that guesses them can end a connection with
// a forged DREQ), so the engine's seed comes from the kernel's random source.
uint64_t random_seed() {
  uint64_t v = 0;
  if (::getrandom(&v, sizeof v, 0) == static_cast<ssize_t>(sizeof v)) return v;
  std::random_device rd;
  return uint64_t{rd()} << 32 | rd();
}

}  // namespace

void add_umad_writes_flag(CLI::App& cmd, SessionOptions& o) {
  cmd.add_flag(
      "--umad-writes", o.umad_writes,
      "umad on RoCEv2: write every MAD to umad (slower: the kernel resolves the peer's MAC "
      "for each), instead of sending them to other hosts as RoCEv2 packets of QP 1");
}

void add_session_options(CLI::App& cmd, SessionOptions& o, bool with_remote) {
  cmd.add_option("--transport", o.transport,
                 "umad (an RDMA device, in place of the kernel CM), roce (RoCEv2 on a raw socket, "
                 "needs root/CAP_NET_RAW) or udp")
      ->check(CLI::IsMember({"umad", "roce", "udp"}))
      ->capture_default_str();
  cmd.add_option("--local", o.local,
                 "local address (udp: ADDR[:PORT], default port 4791; umad: the address whose "
                 "RoCEv2 GID to use, default the port's first)");
  cmd.add_option("--device", o.device,
                 "umad: the RDMA device (default: the first with an ACTIVE port)");
  cmd.add_option("--port-num", o.port_num,
                 "umad: the device's port (default: its first ACTIVE one)")
      ->check(CLI::Range(0, 255));
  cmd.add_option("--gid-index", o.gid_index,
                 "umad: the GID index to send from (default: the RoCEv2 GID of --local)")
      ->check(CLI::Range(0, 65535));
  add_umad_writes_flag(cmd, o);
  if (with_remote)
    cmd.add_option("--remote", o.remote, "the peer's address (udp: ADDR[:PORT])")->required();
  cmd.add_option("--port", o.port, "rdma_cm port (service ID in the TCP/UDP port space)")
      ->capture_default_str();
  cmd.add_flag("--json", o.json, "one JSON object per event on stdout");
  cmd.add_flag("--stats", o.stats, "print the counters at exit");
  cmd.add_option("--pcap", o.pcap, "write every MAD sent and received as a RoCEv2 pcap");
  cmd.add_option("--ca-guid", o.ca_guid, "our CA GUID (default: derived from --local)");
  cmd.add_option("--interface", o.interface, "roce: interface to send on (default: by route)");
  cmd.add_option("--seed", o.seed,
                 "seed of the comm IDs, for runs that repeat (default: random from getrandom)");
}

void Session::capture(const Address& src, const Address& dst, std::span<const uint8_t> mad) {
  if (!pcap_.is_open() || !pcap_error_.empty()) return;
  wire::roce::Datagram d;
  d.src_gid = src.gid;
  d.dst_gid = dst.gid;
  // Shown as RoCEv2 (destination port 4791) whatever the transport, so any RoCE dissector reads
  // it; the source port keeps the sender's real port.
  d.src_port = src.port ? src.port : wire::roce::kUdpPort;
  d.dst_port = wire::roce::kUdpPort;
  d.payload = mad;
  uint8_t frame[wire::roce::kMaxFrameSize];
  size_t n = wire::roce::build_ethernet_frame(d, frame);
  if (n == 0) return;
  auto wall = std::chrono::system_clock::now().time_since_epoch();
  pcap_error_ = pcap_.write(std::chrono::duration_cast<Time>(wall).count(), {frame, n});
  if (!pcap_error_.empty()) report_pcap_error();
}

// A session's transport for a command that sends and receives MADs itself (no engine): what
// passes through goes to --pcap, as the runtime's taps write it for the others.
class Session::TappedTransport final : public Transport {
 public:
  TappedTransport(std::unique_ptr<Transport> t, Session& s) : t_(std::move(t)), s_(s) {}
  int fd() const override { return t_->fd(); }
  size_t receive(std::span<Received> out) override {
    size_t n = t_->receive(out);
    for (size_t i = 0; i < n; ++i)
      if (out[i].length == wire::kMadSize) s_.capture(out[i].from, t_->local(), out[i].mad);
    return n;
  }
  void send(std::span<const Transmit> batch) override {
    for (const Transmit& tx : batch) s_.capture(t_->local(), tx.to, tx.mad);
    t_->send(batch);
  }
  Address local() const override { return t_->local(); }
  const TransportCounters& counters() const override { return t_->counters(); }
  std::string name() const override { return t_->name(); }

 private:
  std::unique_ptr<Transport> t_;
  Session& s_;
};

std::unique_ptr<Session> Session::open(const SessionOptions& o, const char* command,
                                       bool with_runtime) {
  auto fail = [&](const std::string& msg) {
    std::fprintf(stderr, "ibcm %s: %s\n", command, msg.c_str());
    return nullptr;
  };
  std::unique_ptr<Session> s(new Session());
  s->o_ = o;
  s->command_ = command;
  std::optional<uint64_t> seed;
  if (!o.seed.empty()) {
    seed = parse_number(o.seed);
    if (!seed) return fail("bad --seed '" + o.seed + "'");
  }
  uint16_t udp_default = 4791;
  bool umad = o.transport == "umad";
  if (!umad && (!o.device.empty() || o.port_num != 0 || o.gid_index >= 0 || o.umad_writes))
    return fail("--device, --port-num, --gid-index and --umad-writes need --transport umad");
  std::unique_ptr<Transport> t;
  if (umad) {
    // The device comes first: without --local, our address is the one its GID names.
    umad::UmadOptions uo;
    uo.device = o.device;
    uo.port_num = static_cast<uint8_t>(o.port_num);
    if (o.gid_index >= 0) uo.gid_index = static_cast<uint16_t>(o.gid_index);
    uo.direct_send = !o.umad_writes;
    if (!o.local.empty()) {
      auto ip = parse_endpoint(o.local, 0);
      if (!ip) return fail("bad --local address '" + o.local + "'");
      uo.local_ip = *ip;
    }
    auto u = umad::UmadTransport::open(uo);
    if (!u) return fail(u.error().message);
    s->device_ = u.value().get();
    s->local_ = endpoint_of(s->device_->local_port().gid, 0);
    t = std::move(u.value());
  } else {
    if (o.local.empty()) return fail("--local is required with --transport " + o.transport);
    auto local = parse_endpoint(o.local, udp_default);
    if (!local) return fail("bad --local address '" + o.local + "'");
    s->local_ = *local;
  }
  const IpEndpoint* local = &s->local_;
  if (!o.remote.empty()) {
    auto remote = parse_endpoint(o.remote, udp_default);
    if (!remote) return fail("bad --remote address '" + o.remote + "'");
    if (remote->is_v4() != local->is_v4())
      return fail("--local and --remote must both be IPv4 or both IPv6");
    s->remote_ = *remote;
  }
  if (!o.ca_guid.empty()) {
    auto g = parse_number(o.ca_guid);
    if (!g) return fail("bad --ca-guid '" + o.ca_guid + "'");
    s->guid_ = *g;
  } else if (umad) {
    // The device's node GUID, as the kernel CM sends it: a rebooted node is known again by it.
    const std::string& dev = s->device_->local_port().device;
    auto g = umad::read_node_guid(umad::kSysfsInfiniband, dev);
    if (!g) return fail("cannot read the node GUID of " + dev + " (give --ca-guid)");
    s->guid_ = *g;
  } else {
    // Stable per address, so a restarted process keeps its CA GUID, as a real CA would.
    wire::Gid gid = gid_of(*local);
    uint64_t low = 0;
    for (int i = 12; i < 16; ++i) low = low << 8 | gid[i];
    // MAD-over-UDP peers may share an IP address, so the port is part of their identity.
    uint64_t port = o.transport == "udp" ? local->port() : 0;
    s->guid_ = 0x0200000000000000ull | port << 32 | low;
  }
  if (umad) {
    // opened above
  } else if (o.transport == "udp") {
    auto u = UdpTransport::open(*local);
    if (!u) return fail(u.error());
    t = std::move(u.value());
  } else {
    RoceOptions ro;
    ro.interface = o.interface;
    auto r = RoceTransport::open(*local, ro);
    if (!r) return fail(r.error());
    t = std::move(r.value());
  }
  if (!o.pcap.empty()) {
    std::string err = s->pcap_.open(o.pcap);
    if (!err.empty()) {
      s->pcap_error_ = err;  // reported here, not again when the session closes
      return fail("cannot write --pcap: " + err);
    }
  }
  if (!with_runtime) {
    s->raw_ = std::make_unique<TappedTransport>(std::move(t), *s);
    return s;
  }
  Config cfg;
  cfg.ca_guid = s->guid_;
  cfg.cm_response_timeout = static_cast<uint8_t>(o.cm_response_timeout & 31);
  cfg.seed = seed ? *seed : random_seed();
  cfg.max_reqs_in_flight = o.max_reqs_in_flight;
  cfg.mutations = o.mutations;
  // MAD-over-UDP and RoCEv2 are bound to --local: one GID, which a REQ must name (REJ 12). A
  // device's port answers to every GID in its table.
  cfg.check_req_gid = !umad;
  s->rt_ = std::make_unique<Runtime>(cfg, std::move(t));
  if (!o.pcap.empty()) {
    Session* self = s.get();
    s->rt_->on_transmit([self](Time, const Transmit& t) {
      self->capture(self->rt_->transport().local(), t.to, t.mad);
    });
    s->rt_->on_receive([self](Time, const Received& r) {
      if (r.length == wire::kMadSize) self->capture(r.from, self->rt_->transport().local(), r.mad);
    });
  }
  return s;
}

Session::~Session() {
  // A write error was reported when it happened; close() returns that one again.
  std::string err = pcap_.close();
  if (pcap_error_.empty() && !err.empty()) {
    pcap_error_ = err;
    report_pcap_error();
  }
}

void Session::report_pcap_error() const {
  std::fprintf(stderr, "ibcm %s: cannot write --pcap %s: %s\n", command_, o_.pcap.c_str(),
               pcap_error_.c_str());
}

Address Session::remote_address() const {
  Address a = address_of(*remote_);
  return a;
}

void Session::print(Time now, const Event& e) {
  if (o_.json) {
    std::cout << event_to_json(seconds(now), e) << '\n';
    return;
  }
  std::cout << event_to_text(seconds(now), e) << '\n';
}

void Session::note(Time now, const std::string& name, const std::string& json_fields,
                   const std::string& human) {
  char t[32];
  std::snprintf(t, sizeof t, "%.6f", seconds(now));
  if (o_.json) {
    std::cout << "{\"t\":" << t << ",\"event\":" << wire::json_quote(name)
              << (json_fields.empty() ? "" : ",") << json_fields << "}" << '\n';
  } else {
    std::cout << "t=" << t << " event=" << name << (human.empty() ? "" : " ") << human << '\n';
  }
}

std::string comm_id_json(ConnId c) {
  return "\"local_comm_id\":" + wire::json_quote(wire::id_to_string(c, 32));
}

std::string comm_id_text(ConnId c) {
  return "local_comm_id=" + wire::id_to_string(c, 32);
}

void Session::flush() {
  std::cout.flush();
}

void Session::print_stats(const std::vector<std::pair<std::string, uint64_t>>& extra) {
  if (!o_.stats) return;
  const Counters& c = rt_->cm().counters();
  const TransportCounters& tc = rt_->transport().counters();
  std::string j;
  auto add = [&](const std::string& k, uint64_t v) {
    if (!j.empty()) j += ',';
    j += wire::json_quote(k) + ":" + std::to_string(v);
  };
  for (size_t i = 0; i < c.msg.size(); ++i) {
    std::string m(to_string(static_cast<CountedMsg>(i)));
    add("cm_tx_msgs." + m, c.msg[i].tx);
    add("cm_tx_retries." + m, c.msg[i].tx_retries);
    add("cm_rx_msgs." + m, c.msg[i].rx);
    add("cm_rx_duplicates." + m, c.msg[i].rx_duplicates);
  }
  for (size_t i = 0; i < c.drops.size(); ++i)
    add("drop." + std::string(to_string(static_cast<Drop>(i))), c.drops[i]);
  for (const auto& f : kTransportCounterFields)
    add("transport." + std::string(f.name), tc.*f.value);
  // What is still held at exit: connection objects (comm IDs, TIMEWAIT included) and timers.
  add("cm.connections_live", rt_->cm().connection_count());
  add("cm.timers_armed", rt_->cm().timer_count());
  add("cm.reqs_waited", c.reqs_waited);  // connects that waited for --max-reqs-in-flight
  for (const auto& [name, value] : extra) add(name, value);
  if (o_.json) {
    std::cout << "{\"event\":\"stats\"," << j << "}" << std::endl;
  } else {
    std::string human;
    for (char ch : j)
      if (ch != '"') human += ch == ',' ? '\n' : ch == ':' ? ' ' : ch;
    std::cout << "counters:\n" << human << std::endl;
  }
}

bool Session::report_send_error(Time now) {
  const SendError& e = rt_->transport().send_error();
  if (e.count == send_errors_reported_) return false;
  send_errors_reported_ = e.count;
  const char* why = std::strerror(e.code);
  std::fprintf(stderr, "ibcm %s: cannot send to %s: %s\n", command_, e.to.c_str(), why);
  note(now, "send_error",
       "\"to\":" + wire::json_quote(e.to) + ",\"error\":" + wire::json_quote(why),
       "to=" + e.to + " error=" + wire::json_quote(why));
  return true;
}

}  // namespace ibcm::cli
