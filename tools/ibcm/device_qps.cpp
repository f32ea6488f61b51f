#include "device_qps.h"

#include <algorithm>
#include <cstdio>

#include "ibcm/wire/print.h"
#include "ibcm/wire/rdma_cm.h"

namespace ibcm::cli {

void add_data_options(CLI::App& cmd, DataOptions& d) {
  cmd.add_option("--messages", d.messages,
                 "umad: messages each way on each connection, as ucmatose exchanges them "
                 "(receives posted before connecting, sends once established)")
      ->capture_default_str();
  cmd.add_option("--size", d.size, "umad: bytes per message")
      ->check(CLI::Range(1, 1 << 30))
      ->capture_default_str();
}

std::unique_ptr<DeviceQps> DeviceQps::open(Session& s, const char* command, const DataOptions& d) {
  std::unique_ptr<DeviceQps> q(new DeviceQps(s, command, d));
  const umad::LocalPort& port = s.device()->local_port();
  auto dev = verbs::Device::open(*q->verbs_, port.device, port.port);
  if (!dev) {
    std::fprintf(stderr, "ibcm %s: %s\n", command, dev.error().message.c_str());
    return nullptr;
  }
  q->device_.emplace(std::move(dev.value()));
  verbs::BindingOptions bo;
  bo.sgid_index = port.gid_index;
  auto b = verbs::QpBinding::open(*q->device_, bo);
  if (!b) {
    std::fprintf(stderr, "ibcm %s: %s\n", command, b.error().message.c_str());
    return nullptr;
  }
  q->qps_ = std::move(b.value());
  DeviceQps* self = q.get();
  if (!s.rt().watch(q->qps_->completion_fd(),
                    [self](Cm& cm, Time now) { self->completions(cm, now); })) {
    std::fprintf(stderr, "ibcm %s: cannot wait on the completion channel\n", command);
    return nullptr;
  }
  return q;
}

DeviceQps::DeviceQps(Session& s, const char* command, const DataOptions& d)
    : s_(s), command_(command), data_(d), verbs_(verbs::libverbs()) {}

// The exchanges (their MRs) go before the QPs, the QPs before the device.
DeviceQps::~DeviceQps() {
  conns_.clear();
  datagrams_.reset();
  qps_.reset();
  device_.reset();
}

void DeviceQps::fail(Time now, ConnId c, const std::string& what) {
  std::fprintf(stderr, "ibcm %s: connection %u: %s\n", command_, c, what.c_str());
  s_.note(now, "qp_error", comm_id_json(c) + ",\"error\":" + wire::json_quote(what),
          comm_id_text(c) + " error=" + wire::text_value(what));
}

namespace {
// Microseconds spent in f(), added to `total` (for --stats: where the time of a connection goes).
template <class F>
auto timed(uint64_t& total, F&& f) {
  auto start = std::chrono::steady_clock::now();
  auto result = f();
  total += static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::steady_clock::now() - start)
                                     .count());
  return result;
}
}  // namespace

std::optional<ConnId> DeviceQps::connect(Cm& cm, Time now, ConnectParams p) {
  verbs::QpOptions o;
  o.max_send_wr = o.max_recv_wr = std::max<uint32_t>(data_.messages, 1);
  o.responder_resources = p.responder_resources;
  o.pkey = p.pkey;
  auto q = timed(create_us_, [&] { return qps_->create(o); });
  if (!q) {
    fail(now, 0, q.error().error.message);
    return std::nullopt;
  }
  p.qpn = q->qpn;
  p.psn = q->psn;
  p.mtu = q->mtu;
  Conn conn;
  if (auto posted = post_receives(q->qpn, conn); !posted) {
    fail(now, 0, posted.error().message);
    qps_->discard(q->qpn);
    return std::nullopt;
  }
  auto c = cm.connect(now, p);
  if (!c) {
    fail(now, 0, "connect: " + std::string(to_string(c.error())));
    conn.exchange.reset();
    qps_->discard(q->qpn);
    return std::nullopt;
  }
  qps_->attach(q->qpn, *c);
  conns_.emplace(*c, std::move(conn));
  return *c;
}

bool DeviceQps::accept(Cm& cm, Time now, const ev::ReqReceived& req, AcceptParams ap) {
  verbs::QpOptions o;
  o.max_send_wr = o.max_recv_wr = std::max<uint32_t>(data_.messages, 1);
  o.responder_resources = ap.responder_resources;
  o.pkey = req.req.partition_key;
  o.peer_mtu = req.req.path_mtu;
  auto q = timed(create_us_, [&] { return qps_->create(o); });
  if (!q) {
    fail(now, req.conn, q.error().error.message);
    (void)cm.reject(now, req.conn, q.error().reason);
    return false;
  }
  qps_->attach(q->qpn, req.conn);
  Conn conn;
  if (auto posted = post_receives(q->qpn, conn); !posted) {
    fail(now, req.conn, posted.error().message);
    (void)cm.reject(now, req.conn, wire::RejReason::ConsumerDefined);
    qps_->settle(cm, req.conn);
    return false;
  }
  ap.qpn = q->qpn;
  ap.psn = q->psn;
  if (auto r = timed(transition_us_, [&] { return qps_->ready_to_receive(cm, req.conn, ap); });
      !r) {
    fail(now, req.conn, r.error().error.message);
    (void)verbs::answer(cm, now, r.error());
    qps_->settle(cm, req.conn);
    return false;
  }
  conns_.emplace(req.conn, std::move(conn));
  if (auto r = cm.accept(now, req.conn, ap); !r) {
    fail(now, req.conn, "accept: " + std::string(to_string(r.error())));
    qps_->settle(cm, req.conn);
    forget_if_gone(cm, now, req.conn);
    return false;
  }
  return true;
}

Expected<verbs::MessageExchange, verbs::VerbsError> DeviceQps::exchange_for(uint32_t qpn,
                                                                            bool datagram) {
  const verbs::BoundQp* b = qps_->find_qpn(qpn);
  auto x = verbs::MessageExchange::open(*verbs_, device_->pd(), b->qp, b->cq, data_.messages,
                                        data_.size, datagram);
  if (!x) return Unexpected{x.error()};
  if (auto r = x->post_receives(); !r) return Unexpected{r.error()};
  return std::move(x.value());
}

Expected<Ok, verbs::VerbsError> DeviceQps::post_receives(uint32_t qpn, Conn& conn) {
  if (data_.messages == 0) return Ok{};
  auto x = exchange_for(qpn, false);
  if (!x) return Unexpected{x.error()};
  conn.exchange.emplace(std::move(x.value()));
  return Ok{};
}

// udaddy answers to rdma_cm's Q_Key for the UDP port space.
using wire::rdma_cm::kUdpQkey;

std::optional<std::pair<uint32_t, uint32_t>> DeviceQps::answer_sidr(Time now, const Address& peer) {
  if (datagram_qpn_ == 0 && !open_datagram_qp(now)) return std::nullopt;
  datagram_peer_ = peer;
  return std::pair{datagram_qpn_, kUdpQkey};
}

bool DeviceQps::open_datagram_qp(Time now) {
  uint32_t n = std::max<uint32_t>(data_.messages, 1);
  auto q = qps_->create_datagram(kUdpQkey, n, n);
  if (!q) {
    fail(now, 0, q.error().error.message);
    return false;
  }
  datagram_qpn_ = q->qpn;
  auto x = exchange_for(q->qpn, true);
  if (!x) {
    fail(now, 0, x.error().message);
    return false;
  }
  datagrams_.emplace(std::move(x.value()));
  return true;
}

void DeviceQps::close_datagram_qp() {
  datagrams_.reset();
  if (datagram_qpn_ != 0) qps_->discard(std::exchange(datagram_qpn_, 0));
}

bool DeviceQps::send_datagrams(Time now, const Address& peer, uint32_t qpn, uint32_t qkey) {
  auto ah = qps_->address_handle(peer);
  if (!ah) {
    fail(now, 0, ah.error().message);
    return false;
  }
  datagrams_->send_to({*ah, qpn, qkey, datagram_qpn_});
  if (auto r = datagrams_->post_sends(); !r) {
    fail(now, 0, r.error().message);
    return false;
  }
  return true;
}

Status DeviceQps::disconnect(Cm& cm, Time now, ConnId c) {
  auto r = cm.disconnect(now, c);
  if (r) qps_->flush(c);
  return r;
}

void DeviceQps::on_event(Cm& cm, Time now, const Event& e) {
  const ConnId c = event_conn(e);
  if (auto r = timed(transition_us_, [&] { return qps_->on_event(cm, e); }); !r) {
    fail(now, c, r.error().error.message);
    (void)verbs::answer(cm, now, r.error());
    qps_->settle(cm, c);
  } else if (std::holds_alternative<ev::Established>(e)) {
    auto it = conns_.find(c);
    if (it != conns_.end()) {
      it->second.established = true;
      if (it->second.exchange) {
        if (auto p = it->second.exchange->post_sends(); !p) {
          fail(now, c, p.error().message);
          (void)disconnect(cm, now, c);
        }
      } else {
        finish(cm, now, c);
      }
    }
  }
  forget_if_gone(cm, now, c);
}

void DeviceQps::completions(Cm& cm, Time now) {
  auto qpns = qps_->take_completion_events();
  if (!qpns) {
    std::fprintf(stderr, "ibcm %s: %s\n", command_, qpns.error().message.c_str());
    return;
  }
  for (uint32_t qpn : *qpns) {
    if (qpn == datagram_qpn_ && datagrams_) {
      if (auto r = datagrams_->poll(now); !r) fail(now, 0, r.error().message);
      const verbs::ExchangeStats& st = datagrams_->stats();
      // Listening (udaddy's server): every datagram is in; answer the QP that sent them.
      if (datagram_peer_ && !replies_posted_ && datagrams_->received_all() && st.first_immediate) {
        replies_posted_ = true;
        if (!send_datagrams(now, *datagram_peer_, *st.first_immediate, kUdpQkey))
          datagram_done_ = true;
      }
      if (datagrams_->complete() && !datagram_done_) {
        datagram_done_ = true;
        report(now, 0, datagrams_->stats());
      }
      continue;
    }
    const verbs::BoundQp* b = qps_->find_qpn(qpn);
    if (!b) continue;
    auto it = conns_.find(b->conn);
    if (it == conns_.end() || !it->second.exchange) continue;
    verbs::MessageExchange& x = *it->second.exchange;
    uint32_t failures_before = x.stats().errors - x.stats().flushed;
    if (auto r = x.poll(now); !r) fail(now, b->conn, r.error().message);
    uint32_t failures = x.stats().errors - x.stats().flushed;
    if (failures > failures_before) {
      completion_errors_ += failures - failures_before;
      // The QP is in ERR now: the connection cannot carry data any more, so it ends with DREQ.
      fail(now, b->conn, "completion error: " + x.stats().first_error);
      if (cm.state(b->conn) == State::Established) (void)disconnect(cm, now, b->conn);
    }
    if (x.complete()) finish(cm, now, b->conn);
  }
}

bool DeviceQps::report(Time now, ConnId c, const verbs::ExchangeStats& st) {
  messages_sent_ += st.messages_sent;
  messages_received_ += st.messages_received;
  bool ok = st.messages_sent == data_.messages && st.messages_received == data_.messages;
  if (!ok) ++data_failures_;
  std::string first =
      st.first_completion ? std::to_string(s_.seconds(*st.first_completion)) : "null";
  std::string fields = comm_id_json(c) + ",\"first_completion\":" + first +
                       ",\"messages_sent\":" + std::to_string(st.messages_sent) +
                       ",\"messages_received\":" + std::to_string(st.messages_received) +
                       ",\"bytes_sent\":" + std::to_string(st.bytes_sent) +
                       ",\"bytes_received\":" + std::to_string(st.bytes_received) +
                       ",\"completion_errors\":" + std::to_string(st.errors - st.flushed) +
                       ",\"flushed\":" + std::to_string(st.flushed) +
                       ",\"first_error\":" + wire::json_quote(st.first_error);
  std::string human =
      comm_id_text(c) + " sent=" + std::to_string(st.messages_sent) + "/" +
      std::to_string(st.bytes_sent) + "B received=" + std::to_string(st.messages_received) + "/" +
      std::to_string(st.bytes_received) + "B errors=" + std::to_string(st.errors - st.flushed) +
      " flushed=" + std::to_string(st.flushed);
  s_.note(now, "data", fields, human);
  return ok;
}

void DeviceQps::finish(Cm& cm, Time now, ConnId c) {
  auto it = conns_.find(c);
  if (it == conns_.end() || it->second.reported) return;
  Conn& conn = it->second;
  conn.reported = true;
  // Without --messages there is nothing to report, only the end of the (empty) exchange; a
  // connection that never came up moved no data and failed as a connection, not as data.
  bool ok = !conn.exchange || !conn.established || report(now, c, conn.exchange->stats());
  if (ok && conn.established && cm.state(c) == State::Established && data_done_)
    data_done_(cm, now, c);
}

// A connection whose QP is gone (TIMEWAIT over, or ended without one) is forgotten here; its
// data is reported first if it never completed. Only the binding's answer to an event or a call
// for `c` destroys c's QP, so only c is looked at.
void DeviceQps::forget_if_gone(Cm& cm, Time now, ConnId c) {
  if (qps_->find(c) != nullptr || conns_.find(c) == conns_.end()) return;
  finish(cm, now, c);
  conns_.erase(c);
}

std::vector<std::pair<std::string, uint64_t>> DeviceQps::counters() const {
  const verbs::BindingCounters& b = qps_->counters();
  return {{"verbs.qps_live", qps_->live()},
          {"verbs.qps_created", b.created},
          {"verbs.qps_destroyed", b.destroyed},
          {"verbs.qp_create_failures", b.create_failures},
          {"verbs.transitions", b.transitions},
          {"verbs.transition_failures", b.transition_failures},
          {"verbs.flushed", b.flushed},
          {"verbs.destroy_failures", b.destroy_failures},
          {"verbs.cq_events", b.cq_events},
          {"verbs.create_us", create_us_},
          {"verbs.transition_us", transition_us_},
          {"verbs.exchanges_live", conns_.size()},
          {"verbs.address_handles", qps_->address_handles()},
          {"data.messages_sent", messages_sent_},
          {"data.messages_received", messages_received_},
          {"data.completion_errors", completion_errors_},
          {"data.failed_connections", data_failures_}};
}

bool finish_session(Session& s, DeviceQps* device) {
  if (!device) {
    s.print_stats();
    return true;
  }
  device->close_datagram_qp();
  s.print_stats(device->counters());
  return device->data_ok();
}

}  // namespace ibcm::cli
