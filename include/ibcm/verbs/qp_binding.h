/// @file
/// Real queue pairs for the engine's connections: creates a QP for a connection, moves it through
/// INIT -> RTR -> RTS as the spec orders it, to ERR when the connection ends so its work requests
/// flush, and destroys it only once the engine no longer protects its QPN (TIMEWAIT over). The
/// passive side waits for ESTABLISHED before RTS, where librdmacm's rdma_accept() goes on to RTS
/// before the REP: its QP cannot send before the peer has its REP either way.
///
/// The binding never owns or drives the engine: the consumer's event handler passes each engine
/// event to on_event() and makes the CM calls itself. A consumer with its own QPs (an application,
/// an FPGA stack) uses the engine without this.
///
///   active:  create() -> cm.connect(qpn, psn, mtu) -> attach()
///            rep_received: on_event() does RTR + RTS -> cm.send_rtu()
///   passive: req_received: create(peer_mtu) -> attach() -> ready_to_receive() (RTR)
///            -> cm.accept(); established: on_event() does RTS
///   ending:  DREQ sent (cm.disconnect) -> flush(); dreq_received, rej_received,
///            stale_connection, dreq_timeout, rep_timeout, req_timeout, aborted: on_event() moves
///            the QP to ERR; timewait_exit (or the connection's end without TIMEWAIT): destroyed.
///   failure: a QpFailure says what the spec asks (REJ or DREQ); answer() sends it, settle()
///            then frees what the engine no longer protects.
#pragma once

#include <infiniband/verbs.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/engine/cm.h"
#include "ibcm/result.h"
#include "ibcm/verbs/device.h"
#include "ibcm/verbs/error.h"
#include "ibcm/verbs/qp_attr.h"

IBCM_API_BEGIN

namespace ibcm::verbs {

struct QpOptions {
  ibv_qp_type type = IBV_QPT_RC;  ///< RC or UC (UD: create_datagram)
  uint32_t max_send_wr = 1;
  uint32_t max_recv_wr = 1;
  /// The responder resources we offer (REQ/REP): with any, INIT lets the peer read and do atomics.
  uint8_t responder_resources = 0;
  uint16_t pkey = 0xFFFF;
  /// Passive side: the REQ's path MTU. The QP's MTU is the smaller of it and the port's active MTU.
  wire::Mtu peer_mtu = wire::Mtu::None;
};

/// A QP in INIT, ready to be named in a REQ or REP.
struct NewQp {
  uint32_t qpn = 0;
  uint32_t psn = 0;  ///< random starting PSN, 24 bits
  wire::Mtu mtu = wire::Mtu::None;
};

/// What the spec asks of the CM when a connection's QP fails.
enum class Remedy : uint8_t {
  None,        ///< nothing on the wire (the connection was not made yet, or is ending anyway)
  Reject,      ///< REJ with `reason` (REQ or REP received, not yet answered)
  Disconnect,  ///< DREQ (the connection is ESTABLISHED)
};

struct QpFailure {
  ConnId conn = 0;
  VerbsError error;
  Remedy remedy = Remedy::None;
  wire::RejReason reason = wire::RejReason::ConsumerDefined;
};

/// One QP as its user sees it.
struct BoundQp {
  uint32_t qpn = 0;
  ConnId conn = 0;  ///< 0 until attached (and for datagram QPs)
  ibv_qp* qp = nullptr;
  ibv_cq* cq = nullptr;  ///< send and receive completions
  ibv_qp_state state = IBV_QPS_RESET;
};

struct BindingCounters {
  uint64_t created = 0;
  uint64_t destroyed = 0;
  uint64_t create_failures = 0;
  uint64_t transitions = 0;
  uint64_t transition_failures = 0;
  uint64_t flushed = 0;  ///< moved to ERR
  uint64_t destroy_failures = 0;
  uint64_t cq_events = 0;
};

struct BindingOptions {
  uint8_t sgid_index = 0;  ///< our GID on the port (RoCE: the RoCEv2 GID of our address)
  /// Where starting PSNs come from; unset: getrandom(2).
  std::function<uint32_t()> random;
};

class QpBinding {
 public:
  /// Opens the completion channel every QP's CQ signals on.
  static Expected<std::unique_ptr<QpBinding>, VerbsError> open(const Device& device,
                                                               BindingOptions options = {});
  ~QpBinding();  ///< destroys every QP left, its CQ, and the channel
  QpBinding(const QpBinding&) = delete;
  QpBinding& operator=(const QpBinding&) = delete;

  // --- lifecycle ---
  /// A QP (with its CQ) in INIT. On failure nothing is left; a passive side answers the REQ with
  /// the failure's remedy (REJ 1, no QP).
  Expected<NewQp, QpFailure> create(const QpOptions& o);
  /// The engine's connection `conn` uses QP `qpn` from now on. False if there is no such QP.
  bool attach(uint32_t qpn, ConnId conn);
  /// Destroys QP `qpn` at once: one no connection was made with (connect() refused) or a
  /// datagram QP.
  void discard(uint32_t qpn);

  /// Passive side, before cm.accept(): INIT -> RTR with the attributes the REP will promise.
  Expected<Ok, QpFailure> ready_to_receive(const Cm& cm, ConnId conn, const AcceptParams& ap);
  /// Applies what an engine event means for the connection's QP (see the top of this file).
  /// Events for connections without a QP here are ignored.
  Expected<Ok, QpFailure> on_event(const Cm& cm, const Event& e);
  /// Moves the connection's QP to ERR: call it when sending DREQ (cm.disconnect) or destroying.
  void flush(ConnId conn);
  /// After a CM call that may have ended the connection (cm.reject, cm.destroy, answer()): a
  /// connection in TIMEWAIT keeps its QP in ERR, a connection the engine forgot loses it.
  void settle(const Cm& cm, ConnId conn);
  /// Destroys the QPs of every connection the engine has forgotten (cm.destroy() gives no
  /// timewait_exit). Returns how many.
  size_t reap(const Cm& cm);

  /// A UD QP taken straight to RTS with `qkey`, as rdma_cm does for SIDR (starting PSN 0).
  Expected<NewQp, QpFailure> create_datagram(uint32_t qkey, uint32_t max_send_wr,
                                             uint32_t max_recv_wr);

  /// An address handle to reach `peer` (its GID; on InfiniBand its LID) from our port, for
  /// datagrams; the binding owns it and destroys it with itself.
  Expected<ibv_ah*, VerbsError> address_handle(const Address& peer);

  // --- completions ---
  /// The completion channel's fd (non-blocking), for epoll.
  int completion_fd() const;
  /// Takes every pending completion event, re-arms each CQ, and returns the QPNs whose CQ has
  /// completions to poll (poll them after this call: re-arming first loses none).
  Expected<std::vector<uint32_t>, VerbsError> take_completion_events();

  // --- queries ---
  const BoundQp* find(ConnId conn) const;
  const BoundQp* find_qpn(uint32_t qpn) const;
  size_t live() const { return qps_.size(); }  // QPs (each with its CQ) not yet destroyed
  size_t address_handles() const { return ahs_.size(); }
  const BindingCounters& counters() const { return counters_; }
  const Device& device() const { return *device_; }

 private:
  struct Entry {
    BoundQp q;
    QpContext ctx;
  };
  QpBinding(const Device& d, BindingOptions o, ibv_comp_channel* ch);
  Expected<NewQp, QpFailure> make(ibv_qp_type type, uint32_t send_wr, uint32_t recv_wr,
                                  const QpAttr& init, uint8_t responder_resources, uint16_t pkey);
  /// Applies one transition; on failure moves the QP to ERR and says which transition failed.
  Expected<Ok, VerbsError> apply(Entry& e, const QpAttr& a);
  Expected<Ok, QpFailure> go(const Cm& cm, ConnId conn, std::initializer_list<QpState> targets,
                             Remedy remedy);
  void to_error(Entry& e);
  void destroy(uint32_t qpn);
  Entry* entry(ConnId conn);
  uint32_t next_psn();

  const Device* device_;
  BindingOptions options_;
  ibv_comp_channel* channel_;
  std::unordered_map<uint32_t, Entry> qps_;       ///< by QPN
  std::unordered_map<ConnId, uint32_t> by_conn_;  ///< attached QPs
  std::unordered_map<ibv_cq*, uint32_t> by_cq_;
  std::vector<ibv_ah*> ahs_;
  BindingCounters counters_;
};

/// Sends what `f.remedy` asks for on `f.conn` (REJ or DREQ); then call settle().
Status answer(Cm& cm, Time now, const QpFailure& f);

}  // namespace ibcm::verbs

IBCM_API_END
