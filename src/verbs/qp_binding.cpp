// QP creation, transitions and destruction (the event handling is in qp_events.cpp).
#include "ibcm/verbs/qp_binding.h"

#include <algorithm>
#include <string>

#include "verbs/random_psn.h"

namespace ibcm::verbs {

namespace {

std::string_view state_name(QpState s) {
  switch (s) {
    case QpState::Init:
      return "INIT";
    case QpState::Rtr:
      return "RTR";
    case QpState::Rts:
      return "RTS";
    case QpState::Err:
      return "ERR";
  }
  return "?";
}

ibv_qp_state ibv_state(QpState s) {
  switch (s) {
    case QpState::Init:
      return IBV_QPS_INIT;
    case QpState::Rtr:
      return IBV_QPS_RTR;
    case QpState::Rts:
      return IBV_QPS_RTS;
    case QpState::Err:
      break;
  }
  return IBV_QPS_ERR;
}

wire::Mtu smaller(wire::Mtu a, wire::Mtu b) {
  if (a == wire::Mtu::None) return b;
  if (b == wire::Mtu::None) return a;
  return std::min(a, b);
}

std::string qp_name(uint32_t qpn) {
  return "QP " + std::to_string(qpn);
}

}  // namespace

Expected<std::unique_ptr<QpBinding>, VerbsError> QpBinding::open(const Device& d,
                                                                 BindingOptions o) {
  auto ch = d.verbs().create_comp_channel(d.context());
  if (!ch)
    return Unexpected{verbs_error(Call::CreateCompChannel, ch.error(), "device " + d.name())};
  return std::unique_ptr<QpBinding>(new QpBinding(d, std::move(o), *ch));
}

QpBinding::QpBinding(const Device& d, BindingOptions o, ibv_comp_channel* ch)
    : device_(&d), options_(std::move(o)), channel_(ch) {}

QpBinding::~QpBinding() {
  std::vector<uint32_t> left;
  for (const auto& [qpn, e] : qps_) left.push_back(qpn);
  for (uint32_t qpn : left) destroy(qpn);
  for (ibv_ah* ah : ahs_) device_->verbs().destroy_ah(ah);
  device_->verbs().destroy_comp_channel(channel_);
}

Expected<ibv_ah*, VerbsError> QpBinding::address_handle(const Address& peer) {
  wire::PathInfo path;
  path.remote_gid = peer.gid;
  path.remote_lid = peer.lid;
  path.hop_limit = 64;  // as rdma_cm's routes on RoCE
  path.subnet_local = true;
  QpContext c;
  c.type = IBV_QPT_UD;
  c.link_layer = device_->port().link_layer;
  c.port_num = device_->port_num();
  c.sgid_index = options_.sgid_index;
  c.lmc = device_->port().lmc;
  ibv_ah_attr attr = address_vector(path, c);
  auto ah = device_->verbs().create_ah(device_->pd(), attr);
  if (!ah) return Unexpected{verbs_error(Call::CreateAh, ah.error(), "an address handle")};
  ahs_.push_back(*ah);
  return *ah;
}

uint32_t QpBinding::next_psn() {
  return (options_.random ? options_.random() : random_psn()) & 0xFFFFFF;
}

Expected<NewQp, QpFailure> QpBinding::create(const QpOptions& o) {
  QpAttr init;
  init.state = QpState::Init;
  init.pkey = o.pkey;
  auto q = make(o.type, o.max_send_wr, o.max_recv_wr, init, o.responder_resources, o.pkey);
  if (q) q->mtu = smaller(device_->port().active_mtu, o.peer_mtu);
  return q;
}

Expected<NewQp, QpFailure> QpBinding::create_datagram(uint32_t qkey, uint32_t max_send_wr,
                                                      uint32_t max_recv_wr) {
  QpAttr a;
  a.state = QpState::Init;
  a.qkey = qkey;
  auto q = make(IBV_QPT_UD, max_send_wr, max_recv_wr, a, 0, 0xFFFF);
  if (!q) return q;
  Entry& e = qps_.at(q->qpn);
  // rdma_cm takes its UD QPs on to RTS at once, with starting PSN 0 (ucma_init_ud_qp).
  for (QpState s : {QpState::Rtr, QpState::Rts}) {
    a.state = s;
    if (auto r = apply(e, a); !r) {
      destroy(q->qpn);
      return Unexpected{QpFailure{0, r.error(), Remedy::None, wire::RejReason::NoQp}};
    }
  }
  q->psn = 0;
  q->mtu = device_->port().active_mtu;
  return q;
}

Expected<NewQp, QpFailure> QpBinding::make(ibv_qp_type type, uint32_t send_wr, uint32_t recv_wr,
                                           const QpAttr& init, uint8_t responder_resources,
                                           uint16_t pkey) {
  Verbs& v = device_->verbs();
  // A passive side that cannot make a QP answers REJ 1 (no QP available).
  auto fail = [&](Call call, int code, std::string_view what) {
    ++counters_.create_failures;
    return Unexpected{
        QpFailure{0, verbs_error(call, code, what), Remedy::Reject, wire::RejReason::NoQp}};
  };
  auto pkey_index = device_->pkey_index(pkey);
  if (!pkey_index) {
    ++counters_.create_failures;
    return Unexpected{QpFailure{0, pkey_index.error(), Remedy::Reject, wire::RejReason::NoQp}};
  }
  send_wr = std::max<uint32_t>(send_wr, 1);
  recv_wr = std::max<uint32_t>(recv_wr, 1);
  auto cq = v.create_cq(device_->context(), static_cast<int>(send_wr + recv_wr), nullptr, channel_);
  if (!cq) return fail(Call::CreateCq, cq.error(), "a CQ for a new QP");
  if (int rc = v.req_notify_cq(*cq); rc != 0) {
    v.destroy_cq(*cq);
    return fail(Call::ReqNotifyCq, rc, "arming a new CQ");
  }
  ibv_qp_init_attr ia{};
  ia.send_cq = *cq;
  ia.recv_cq = *cq;
  ia.qp_type = type;
  ia.sq_sig_all = 1;  // every send completes, as ucmatose asks
  ia.cap.max_send_wr = send_wr;
  ia.cap.max_recv_wr = recv_wr;
  ia.cap.max_send_sge = 1;
  ia.cap.max_recv_sge = 1;
  auto qp = v.create_qp(device_->pd(), ia);
  if (!qp) {
    v.destroy_cq(*cq);
    return fail(Call::CreateQp, qp.error(), "a new QP");
  }
  ++counters_.created;
  const uint32_t qpn = (*qp)->qp_num;
  Entry& e = qps_[qpn];
  e.q = BoundQp{qpn, 0, *qp, *cq, IBV_QPS_RESET};
  e.ctx.type = type;
  e.ctx.link_layer = device_->port().link_layer;
  e.ctx.port_num = device_->port_num();
  e.ctx.sgid_index = options_.sgid_index;
  e.ctx.pkey_index = *pkey_index;
  e.ctx.lmc = device_->port().lmc;
  e.ctx.responder_resources = responder_resources;
  by_cq_[*cq] = qpn;
  // INIT now, not at the first CM transition: receives can be posted only from INIT on, and
  // ucmatose's peer posts them before it connects or accepts.
  if (auto r = apply(e, init); !r) {
    destroy(qpn);
    ++counters_.create_failures;
    return Unexpected{QpFailure{0, r.error(), Remedy::Reject, wire::RejReason::NoQp}};
  }
  return NewQp{qpn, next_psn(), wire::Mtu::None};
}

bool QpBinding::attach(uint32_t qpn, ConnId conn) {
  auto it = qps_.find(qpn);
  if (it == qps_.end()) return false;
  // The engine reuses a comm ID only after it forgot the connection: its QP may go.
  if (auto old = by_conn_.find(conn); old != by_conn_.end() && old->second != qpn)
    destroy(old->second);
  it->second.q.conn = conn;
  by_conn_[conn] = qpn;
  return true;
}

void QpBinding::discard(uint32_t qpn) {
  if (qps_.count(qpn)) destroy(qpn);
}

Expected<Ok, VerbsError> QpBinding::apply(Entry& e, const QpAttr& a) {
  IbvModify m = to_ibv(a, e.ctx);
  if (a.state == QpState::Rtr && e.ctx.type != IBV_QPT_UD) {
    // Never more than the port carries, whatever the REQ offered.
    m.attr.path_mtu = to_ibv(smaller(a.path_mtu, device_->port().active_mtu));
  }
  ++counters_.transitions;
  int rc = device_->verbs().modify_qp(e.q.qp, m.attr, m.mask);
  if (rc == 0) {
    e.q.state = ibv_state(a.state);
    if (a.state == QpState::Err) ++counters_.flushed;
    return Ok{};
  }
  ++counters_.transition_failures;
  VerbsError err =
      verbs_error(Call::ModifyQp, rc, qp_name(e.q.qpn) + " to " + std::string(state_name(a.state)));
  if (a.state != QpState::Err) to_error(e);  // never left half-way
  return Unexpected{err};
}

void QpBinding::to_error(Entry& e) {
  if (e.q.state == IBV_QPS_ERR || e.q.state == IBV_QPS_RESET) return;
  QpAttr a;
  a.state = QpState::Err;
  // A QP that refuses even ERR keeps its last state on record; it is destroyed in time anyway.
  (void)apply(e, a);
}

void QpBinding::flush(ConnId conn) {
  if (Entry* e = entry(conn)) to_error(*e);
}

void QpBinding::destroy(uint32_t qpn) {
  auto it = qps_.find(qpn);
  if (it == qps_.end()) return;
  Verbs& v = device_->verbs();
  const BoundQp q = it->second.q;
  if (v.destroy_qp(q.qp) != 0) ++counters_.destroy_failures;
  if (v.destroy_cq(q.cq) != 0) ++counters_.destroy_failures;
  ++counters_.destroyed;
  by_cq_.erase(q.cq);
  if (q.conn != 0) {
    auto c = by_conn_.find(q.conn);
    if (c != by_conn_.end() && c->second == qpn) by_conn_.erase(c);
  }
  qps_.erase(it);
}

QpBinding::Entry* QpBinding::entry(ConnId conn) {
  auto it = by_conn_.find(conn);
  return it == by_conn_.end() ? nullptr : &qps_.at(it->second);
}

const BoundQp* QpBinding::find(ConnId conn) const {
  auto it = by_conn_.find(conn);
  return it == by_conn_.end() ? nullptr : &qps_.at(it->second).q;
}

const BoundQp* QpBinding::find_qpn(uint32_t qpn) const {
  auto it = qps_.find(qpn);
  return it == qps_.end() ? nullptr : &it->second.q;
}

int QpBinding::completion_fd() const {
  return channel_->fd;
}

Expected<std::vector<uint32_t>, VerbsError> QpBinding::take_completion_events() {
  Verbs& v = device_->verbs();
  std::vector<uint32_t> ready;
  for (;;) {
    ibv_cq* cq = nullptr;
    void* context = nullptr;
    int rc = v.get_cq_event(channel_, cq, context);
    if (rc == EAGAIN || rc == EWOULDBLOCK) break;
    if (rc != 0) return Unexpected{verbs_error(Call::GetCqEvent, rc, "completion channel")};
    ++counters_.cq_events;
    // Acked at once: ibv_destroy_cq waits for every event of its CQ to be acked.
    v.ack_cq_events(cq, 1);
    if (int n = v.req_notify_cq(cq); n != 0)
      return Unexpected{verbs_error(Call::ReqNotifyCq, n, "re-arming a CQ")};
    auto it = by_cq_.find(cq);
    if (it != by_cq_.end() && std::find(ready.begin(), ready.end(), it->second) == ready.end())
      ready.push_back(it->second);
  }
  return ready;
}

}  // namespace ibcm::verbs
