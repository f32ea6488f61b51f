// The probe's remote in its tests: ibcm's engine on a MAD-over-UDP socket of its own, run on its
// own thread as a server would run it (accept every REQ, answer every DREQ and LAP, and disconnect
// each connection `hold` after it is established), with engine rules broken on purpose when
// asked; and, once connect_to() names the probe, as a client too that connects to it every
// `period` (RTU for every REP), for the checks where the probe is the passive side.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <thread>

#include "ibcm/transport/rdma_cm_params.h"
#include "ibcm/transport/runtime.h"
#include "ibcm/transport/udp_transport.h"
#include "ibcm/wire/rdma_cm.h"

namespace ibcm::probe::test {

class RemoteCm {
 public:
  static constexpr uint16_t kPort = 7174;  // the rdma_cm port it listens on

  RemoteCm(uint32_t mutations, Time hold) : hold_(hold) {
    auto t = UdpTransport::open(*parse_endpoint("127.0.0.1", 0));
    if (!t) return;
    endpoint_ = t.value()->endpoint();
    Config cfg;
    cfg.ca_guid = 0x0200000000000002;
    cfg.seed = 2;
    cfg.mutations = mutations;
    cfg.check_req_gid = true;  // as `ibcm listen` on MAD-over-UDP
    rt_ = std::make_unique<Runtime>(cfg, std::move(t.value()));
    rt_->on_event([this](Cm& cm, Time now, const Event& e) { serve(cm, now, e); });
    (void)rt_->cm().listen(wire::rdma_cm::service_id(wire::rdma_cm::PortSpace::TCP, kPort));
    loop_ = std::thread([this] { run(); });
  }
  ~RemoteCm() {
    stop_ = true;
    if (loop_.joinable()) loop_.join();
  }
  bool ok() const { return rt_ != nullptr; }
  // From now on, connect to `probe` (its rdma_cm port kPort) every `period`, each connection from
  // a new QP. Its REQs advertise short times (CM response 2^16 x 4.096 us = 268 ms), so that a
  // REQ retry the probe provokes comes within a check.
  void connect_to(const IpEndpoint& probe, Time period) {
    probe_ = probe;
    period_ = period;
    connecting_.store(true, std::memory_order_release);
  }
  void stop_connecting() { connecting_ = false; }
  const IpEndpoint& endpoint() const { return endpoint_; }
  // Connections the engine holds (TIMEWAIT included), as of the loop's last round.
  size_t connections() const { return connections_; }

 private:
  void serve(Cm& cm, Time now, const Event& e) {
    if (const auto* rep = std::get_if<ev::RepReceived>(&e)) {
      (void)cm.send_rtu(now, rep->conn);
    } else if (const auto* req = std::get_if<ev::ReqReceived>(&e)) {
      AcceptParams a;
      a.qpn = next_qpn_++;
      a.psn = 0x1234;
      (void)cm.accept(now, req->conn, a);
    } else if (const auto* est = std::get_if<ev::Established>(&e)) {
      disconnect_at_[est->conn] = now + hold_;
    } else if (const auto* dreq = std::get_if<ev::DreqReceived>(&e)) {
      disconnect_at_.erase(dreq->conn);
      (void)cm.send_drep(now, dreq->conn);
    } else if (const auto* lap = std::get_if<ev::LapReceived>(&e)) {
      (void)cm.send_apr(now, lap->conn, wire::ApStatus::Success);
    } else if (const auto* rej = std::get_if<ev::RejReceived>(&e)) {
      disconnect_at_.erase(rej->conn);
    }
  }
  void run() {
    while (!stop_) {
      (void)rt_->run_once(std::chrono::milliseconds(10));
      Cm& cm = rt_->cm();
      Time now = rt_->now();
      if (connecting_.load(std::memory_order_acquire) && now >= next_connect_) {
        next_connect_ = now + period_;
        std::array<uint8_t, 92> pd{};
        uint32_t qpn = next_qpn_++;
        ConnectParams p =
            rdma_cm_connect_params(endpoint_, probe_, kPort,
                                   static_cast<uint16_t>(40000 + qpn % 1000), qpn, 0x4321, {}, pd);
        p.dest = address_of(probe_);
        p.remote_cm_response_timeout = 16;
        p.packet_life_time = 13;
        p.primary.local_ack_timeout = 14;
        p.max_cm_retries = 3;
        (void)cm.connect(now, p);
      }
      for (auto it = disconnect_at_.begin(); it != disconnect_at_.end();) {
        if (it->second > now) {
          ++it;
          continue;
        }
        (void)cm.disconnect(now, it->first);  // not ESTABLISHED any more: nothing to end
        it = disconnect_at_.erase(it);
      }
      (void)rt_->run_once(std::chrono::milliseconds(0));  // what that queued goes out now
      connections_ = cm.connection_count();
    }
  }

  Time hold_;
  IpEndpoint endpoint_;
  std::unique_ptr<Runtime> rt_;
  std::map<ConnId, Time> disconnect_at_;
  uint32_t next_qpn_ = 0x100;
  IpEndpoint probe_;
  Time period_{};
  Time next_connect_{};
  std::atomic<bool> connecting_{false};
  std::atomic<bool> stop_{false};
  std::atomic<size_t> connections_{0};
  std::thread loop_;
};

}  // namespace ibcm::probe::test
