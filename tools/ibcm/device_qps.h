// Real queue pairs for listen and connect on an RDMA device (--transport umad): one RC QP per
// connection, moved through its states by the engine's events (the verbs binding), and the data
// exchange of rdma-core's ucmatose (each side posts N receives before connecting or accepting,
// sends N messages of S bytes once established, and waits for every completion both ways).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ibcm/verbs/device.h"
#include "ibcm/verbs/message_exchange.h"
#include "ibcm/verbs/qp_binding.h"
#include "session.h"

namespace ibcm::cli {

struct DataOptions {
  uint32_t messages = 0;  // per connection, each way (0: connect only, no data)
  uint32_t size = 100;    // bytes per message (ucmatose's default)
};

// Adds --messages and --size.
void add_data_options(CLI::App& cmd, DataOptions& d);

class DeviceQps {
 public:
  // Opens the session's device through libibverbs; nullptr (after one line on stderr) if it
  // cannot.
  static std::unique_ptr<DeviceQps> open(Session& s, const char* command, const DataOptions& d);
  ~DeviceQps();

  // Active side: a QP in INIT named in the REQ (p.qpn, p.psn, p.mtu), receives posted, then
  // cm.connect(). Failures are reported and nothing is left.
  std::optional<ConnId> connect(Cm& cm, Time now, ConnectParams p);
  // Passive side: a QP for the REQ, receives posted, RTR, then cm.accept(). A failure answers
  // the REQ as the spec asks (REJ 1 without a QP, REJ 28 for a failed transition).
  bool accept(Cm& cm, Time now, const ev::ReqReceived& req, AcceptParams ap);
  // Every engine event, before the command acts on it: QP transitions, data, endings.
  void on_event(Cm& cm, Time now, const Event& e);
  // DREQ, and the QP to ERR so its work requests flush.
  Status disconnect(Cm& cm, Time now, ConnId c);

  // SIDR, as udaddy's client: a UD QP with rdma_cm's Q_Key and the receives posted, before the
  // SIDR_REQ goes; then, on a successful SIDR_REP, the datagrams to the QP and Q_Key it names.
  // Both report why they fail. The exchange's end is reported as a data event (connection 0).
  bool open_datagram_qp(Time now);
  bool send_datagrams(Time now, const Address& peer, uint32_t qpn, uint32_t qkey);
  bool datagrams_done() const { return datagram_done_; }
  // SIDR, as udaddy's server: the UD QP a SIDR_REP names (made at the first SIDR_REQ, receives
  // posted); once `--messages` datagrams from `peer` are in, as many replies go to the QP their
  // immediate data names. Returns the QPN and Q_Key, or nullopt (reported).
  std::optional<std::pair<uint32_t, uint32_t>> answer_sidr(Time now, const Address& peer);
  void close_datagram_qp();  // the exchange and the UD QP go (before --stats counts them)

  // Called when a connection's exchange is over (every completion in, or none to wait for).
  void on_data_done(std::function<void(Cm&, Time, ConnId)> f) { data_done_ = std::move(f); }
  bool data_ok() const { return data_failures_ == 0; }
  // Counters for --stats: QPs live, created, destroyed, transitions, failures, completions.
  std::vector<std::pair<std::string, uint64_t>> counters() const;

 private:
  DeviceQps(Session& s, const char* command, const DataOptions& d);
  void completions(Cm& cm, Time now);
  void finish(Cm& cm, Time now, ConnId c);  // reports the connection's data, once
  // The data event of an exchange; false when not every message went both ways.
  bool report(Time now, ConnId c, const verbs::ExchangeStats& st);
  void fail(Time now, ConnId c, const std::string& what);
  void forget_if_gone(Cm& cm, Time now, ConnId c);
  struct Conn;
  // With --messages: the connection's exchange, its receives posted (before REQ or REP).
  Expected<Ok, verbs::VerbsError> post_receives(uint32_t qpn, Conn& conn);
  // An exchange on QP `qpn` with its receives posted.
  Expected<verbs::MessageExchange, verbs::VerbsError> exchange_for(uint32_t qpn, bool datagram);

  Session& s_;
  const char* command_;
  DataOptions data_;
  std::unique_ptr<verbs::Verbs> verbs_;
  std::optional<verbs::Device> device_;
  std::unique_ptr<verbs::QpBinding> qps_;
  struct Conn {
    std::optional<verbs::MessageExchange> exchange;
    bool established = false;
    bool reported = false;
  };
  std::map<ConnId, Conn> conns_;
  uint32_t datagram_qpn_ = 0;
  std::optional<verbs::MessageExchange> datagrams_;
  bool datagram_done_ = false;
  std::optional<Address> datagram_peer_;  // listen: where the replies go, once all came in
  bool replies_posted_ = false;
  std::function<void(Cm&, Time, ConnId)> data_done_;
  uint64_t data_failures_ = 0;
  uint64_t completion_errors_ = 0;
  // Wall time in the binding: QP creation (CQ, QP, INIT), and what events and accepts do to QPs
  // (transitions, flushes, destroys).
  uint64_t create_us_ = 0, transition_us_ = 0;
  uint64_t messages_sent_ = 0, messages_received_ = 0;
};

// A command's end: the UD QP goes (if there is one), --stats prints the counters (the device's
// with the session's), and the result is whether every data exchange went well (true without a
// device).
bool finish_session(Session& s, DeviceQps* device);

}  // namespace ibcm::cli
