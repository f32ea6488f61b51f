// What the engine's events mean for a connection's QP, and when its QP may go.
#include <type_traits>

#include "ibcm/verbs/qp_binding.h"

namespace ibcm::verbs {

namespace {

VerbsError engine_refused(ConnId conn, QpState target, Error e) {
  VerbsError v{Call::ModifyQp, EINVAL, ""};
  v.message = "connection " + std::to_string(conn) + ": no QP attributes for " +
              (target == QpState::Rtr ? "RTR" : "RTS") + ": " + std::string(to_string(e));
  return v;
}

// Events after which the connection's QP must stop: the connection is over or going.
bool ends_connection(const Event& e) {
  return std::visit(
      [](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        return std::is_same_v<T, ev::DreqReceived> || std::is_same_v<T, ev::DrepReceived> ||
               std::is_same_v<T, ev::RejReceived> || std::is_same_v<T, ev::StaleConnection> ||
               std::is_same_v<T, ev::DreqTimeout> || std::is_same_v<T, ev::RepTimeout> ||
               std::is_same_v<T, ev::ReqTimeout> || std::is_same_v<T, ev::Aborted> ||
               std::is_same_v<T, ev::TimeWaitExit>;
      },
      e);
}

}  // namespace

Expected<Ok, QpFailure> QpBinding::go(const Cm& cm, ConnId conn,
                                      std::initializer_list<QpState> targets, Remedy remedy) {
  Entry* e = entry(conn);
  if (!e) return Ok{};
  for (QpState t : targets) {
    auto a = cm.qp_attributes(conn, t);
    if (!a) {
      to_error(*e);
      return Unexpected{QpFailure{conn, engine_refused(conn, t, a.error()), remedy}};
    }
    if (auto r = apply(*e, *a); !r) return Unexpected{QpFailure{conn, r.error(), remedy}};
  }
  return Ok{};
}

Expected<Ok, QpFailure> QpBinding::ready_to_receive(const Cm& cm, ConnId conn,
                                                    const AcceptParams& ap) {
  Entry* e = entry(conn);
  if (!e) return Ok{};
  auto a = cm.qp_attributes(conn, QpState::Rtr);
  if (!a) {
    to_error(*e);
    return Unexpected{
        QpFailure{conn, engine_refused(conn, QpState::Rtr, a.error()), Remedy::Reject}};
  }
  // The engine adopts the REP's responder resources and Starting PSN only in accept(), after
  // this transition; the receive queue expects the PSN the REP will advertise.
  a->max_dest_rd_atomic = ap.responder_resources;
  a->rq_psn = ap.psn;
  if (auto r = apply(*e, *a); !r) return Unexpected{QpFailure{conn, r.error(), Remedy::Reject}};
  return Ok{};
}

Expected<Ok, QpFailure> QpBinding::on_event(const Cm& cm, const Event& ev) {
  const ConnId conn = event_conn(ev);
  Entry* e = entry(conn);
  if (!e) return Ok{};
  // Active side: the REP is in; RTR and RTS before the RTU goes, as rdma_cm does.
  if (std::holds_alternative<ev::RepReceived>(ev) && e->q.state == IBV_QPS_INIT)
    return go(cm, conn, {QpState::Rtr, QpState::Rts}, Remedy::Reject);
  // Passive side: the RTU (or data, establish()) completes the connection: RTS.
  if (std::holds_alternative<ev::Established>(ev) && e->q.state == IBV_QPS_RTR)
    return go(cm, conn, {QpState::Rts}, Remedy::Disconnect);
  if (ends_connection(ev)) {
    to_error(*e);
    if (std::holds_alternative<ev::TimeWaitExit>(ev)) {
      destroy(e->q.qpn);
    } else {
      settle(cm, conn);
    }
  }
  return Ok{};
}

void QpBinding::settle(const Cm& cm, ConnId conn) {
  Entry* e = entry(conn);
  if (!e) return;
  auto state = cm.state(conn);
  if (!state) {
    destroy(e->q.qpn);  // no TIMEWAIT protects its QPN any more
  } else if (*state == State::TimeWait) {
    to_error(*e);
  }
}

size_t QpBinding::reap(const Cm& cm) {
  std::vector<uint32_t> gone;
  for (const auto& [conn, qpn] : by_conn_)
    if (!cm.state(conn)) gone.push_back(qpn);
  for (uint32_t qpn : gone) destroy(qpn);
  return gone.size();
}

Status answer(Cm& cm, Time now, const QpFailure& f) {
  switch (f.remedy) {
    case Remedy::Reject:
      return cm.reject(now, f.conn, f.reason);
    case Remedy::Disconnect:
      return cm.disconnect(now, f.conn);
    case Remedy::None:
      break;
  }
  return Ok{};
}

}  // namespace ibcm::verbs
