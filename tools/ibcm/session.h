// What connect, listen and sidr share: the transport options, the runtime, event printing
// (human or JSON, one line per event), the optional pcap, and the counters at exit.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ibcm/transport/ip_address.h"
#include "ibcm/transport/runtime.h"
#include "ibcm/umad/umad_transport.h"
#include "ibcm/wire/pcap.h"

namespace ibcm::cli {

struct SessionOptions {
  std::string transport = "udp";
  std::string local;
  std::string remote;
  uint16_t port = 7174;  // the rdma_cm port (service ID), not the UDP port
  bool json = false;
  bool stats = false;
  std::string pcap;
  std::string ca_guid;           // hex or decimal; default derived from the local address
  std::string interface;         // RoCE: the interface to send on (default: by route)
  int cm_response_timeout = 20;  // Config::cm_response_timeout, 0..31 (connect sets it)
  // Config::max_reqs_in_flight (connect and daemon set it): a quarter of the MAD layer's 512
  // receive buffers per port, so that the REPs answering a burst of connects fit in ours and
  // the REQs in the peer's, with room for everything else
  uint32_t max_reqs_in_flight = 128;
  std::string seed;  // Config::seed (comm IDs); default: from getrandom()
  // umad: the RDMA device, its port (0: the first ACTIVE one) and the GID index to send from
  // (default: the RoCEv2 GID of --local, or the first RoCEv2 GID of the port).
  std::string device;
  int port_num = 0;
  int gid_index = -1;
  bool umad_writes = false;  // umad: every MAD through umad, none as a RoCEv2 packet of ours
  uint32_t mutations = 0;    // Config::mutations (listen --mutation): rules broken on purpose
};

// Adds --transport, --local, --port, --json, --stats, --pcap, --ca-guid, --interface, --seed,
// --device, --port-num, --gid-index, --umad-writes (and --remote if asked).
void add_session_options(CLI::App& cmd, SessionOptions& o, bool with_remote);
// --umad-writes alone (ibcm daemon, whose other device options are its own).
void add_umad_writes_flag(CLI::App& cmd, SessionOptions& o);

class Session {
 public:
  // Opens the transport and the runtime (without_runtime: the transport alone, for a command
  // that speaks MADs itself); on failure prints a clear error and returns nullopt.
  static std::unique_ptr<Session> open(const SessionOptions& o, const char* command,
                                       bool with_runtime = true);
  ~Session();

  Runtime& rt() { return *rt_; }
  // The transport of a session opened without a runtime (its MADs go to --pcap too).
  Transport& raw_transport() { return *raw_; }
  const IpEndpoint& local() const { return local_; }
  std::optional<IpEndpoint> remote() const { return remote_; }
  // The remote CM's Address (its GID and, for UDP, its port).
  Address remote_address() const;
  double seconds(Time t) const { return std::chrono::duration<double>(t).count(); }
  // Prints one event line (JSON or human). Lines are buffered: the commands flush() once a round
  // of the loop, not once a line (a line a system call cost more than the CM's work).
  void print(Time now, const Event& e);
  // Prints a free-form note: JSON {"t":..,"event":name,...extra} or a human line.
  void note(Time now, const std::string& name, const std::string& json_fields,
            const std::string& human);
  // The engine's and the transport's counters, and `extra` (the device's), with --stats.
  void flush();
  void print_stats(const std::vector<std::pair<std::string, uint64_t>>& extra = {});
  // Reports a send that failed for good (no route, say) since the last call: on stderr as
  // "ibcm COMMAND: cannot send to ADDR: REASON", and as a send_error event. Returns whether there
  // was one.
  bool report_send_error(Time now);
  uint64_t ca_guid() const { return guid_; }
  // The umad transport, when the session runs on an RDMA device (nullptr otherwise).
  umad::UmadTransport* device() const { return device_; }
  const SessionOptions& options() const { return o_; }

 private:
  class TappedTransport;
  Session() = default;
  void report_pcap_error() const;
  // Writes one MAD to --pcap, if it is open, as a RoCEv2 frame from src to dst.
  void capture(const Address& src, const Address& dst, std::span<const uint8_t> mad);
  SessionOptions o_;
  const char* command_ = "";
  uint64_t send_errors_reported_ = 0;
  IpEndpoint local_;
  std::optional<IpEndpoint> remote_;
  uint64_t guid_ = 0;
  umad::UmadTransport* device_ = nullptr;  // owned by rt_
  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<Transport> raw_;  // without a runtime
  wire::pcap::Writer pcap_;
  std::string pcap_error_;  // the first write error of --pcap (later frames are not written)
};

// "0x1234" or "4660".
std::optional<uint64_t> parse_number(const std::string& s);

// An engine rule broken on purpose (ibcm::Mutation), by the name `--mutation` takes: the
// simulator's self-test, and a target that `ibcm probe` must catch. False for an unknown name.
bool parse_mutation(const std::string& name, uint32_t& bits);
std::string mutation_list();  // "skip-stale-dreq, ..."

// A connection's local comm ID in a note's fields, named as events name it (event_json.h): the
// JSON member ("local_comm_id":"0x0000abcd") and the text pair (local_comm_id=0x0000abcd).
std::string comm_id_json(ConnId c);
std::string comm_id_text(ConnId c);

}  // namespace ibcm::cli
