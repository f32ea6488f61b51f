#include "perf/cm_pair.h"

#include "fixture/nodes.h"

namespace ibcm::perf {

namespace {

Config config_of(uint8_t n, Time timewait) {
  Config c = fixture::config_of(n);
  c.timewait = timewait;
  return c;
}

constexpr uint32_t kPassiveQpnBit = 0x800000;

}  // namespace

CmPair::CmPair(Time timewait)
    : a(config_of(1, timewait)),
      b(config_of(2, timewait)),
      params_(fixture::connect_params(a.config().local, b.config().local, 0, kService)) {
  if (!b.listen(kService)) ++errors_;
}

void CmPair::drain_a() {
  while (auto e = a.poll_event()) {
    if (auto* rep = std::get_if<ev::RepReceived>(&*e)) {
      if (!a.send_rtu(now, rep->conn)) ++errors_;
    } else if (auto* est = std::get_if<ev::Established>(&*e)) {
      ++a_established_;
      if (sink_) sink_->push_back(est->conn);
    } else if (std::holds_alternative<ev::TimeWaitExit>(*e)) {
      ++a_exits_;
    } else if (!std::holds_alternative<ev::DrepReceived>(*e)) {
      ++errors_;
    }
  }
}

void CmPair::drain_b() {
  while (auto e = b.poll_event()) {
    if (auto* req = std::get_if<ev::ReqReceived>(&*e)) {
      AcceptParams ap;
      ap.qpn = req->req.local_qpn | kPassiveQpnBit;
      ap.psn = 0x777;
      if (!b.accept(now, req->conn, ap)) ++errors_;
    } else if (std::holds_alternative<ev::Established>(*e)) {
      ++b_established_;
    } else if (auto* dreq = std::get_if<ev::DreqReceived>(&*e)) {
      if (!b.send_drep(now, dreq->conn)) ++errors_;
    } else if (std::holds_alternative<ev::TimeWaitExit>(*e)) {
      ++b_exits_;
    } else if (!std::holds_alternative<ev::RtuReceived>(*e)) {
      ++errors_;
    }
  }
}

bool CmPair::deliver(Cm& from, Cm& to, void (CmPair::*drain_to)()) {
  bool any = false;
  for (auto batch = from.peek_transmits(); !batch.empty(); batch = from.peek_transmits()) {
    any = true;
    batch = batch.first(std::min(batch.size(), Runtime::kReceiveBatch));
    in_.clear();
    for (const Transmit& t : batch) in_.push_back(Inbound{from.config().local, t.mad});
    to.handle_mads(now, in_);
    from.consume_transmits(batch.size());
    (this->*drain_to)();
  }
  return any;
}

void CmPair::pump() {
  drain_a();
  drain_b();
  for (;;) {
    bool any = deliver(a, b, &CmPair::drain_b);
    any = deliver(b, a, &CmPair::drain_a) || any;
    if (!any) return;
  }
}

size_t CmPair::connect(size_t n, uint32_t first_qpn, std::vector<ConnId>* ids) {
  uint64_t before = std::min(a_established_, b_established_);
  sink_ = ids;
  for (size_t i = 0; i < n; ++i) {
    params_.qpn = first_qpn + static_cast<uint32_t>(i);
    if (!a.connect(now, params_)) ++errors_;
  }
  pump();
  sink_ = nullptr;
  return static_cast<size_t>(std::min(a_established_, b_established_) - before);
}

size_t CmPair::disconnect(std::span<const ConnId> ids) {
  uint64_t before = std::min(a_exits_, b_exits_);
  for (ConnId id : ids)
    if (!a.disconnect(now, id)) ++errors_;
  pump();
  now += a.config().timewait + Time(1);
  a.handle_timeout(now);
  b.handle_timeout(now);
  pump();
  return static_cast<size_t>(std::min(a_exits_, b_exits_) - before);
}

}  // namespace ibcm::perf
