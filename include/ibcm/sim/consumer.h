/// @file
/// A ready-made consumer for simulated nodes: answers everything the way a well-behaved
/// application would, with switches to misbehave (reject, stall with MRA, never answer DREQ).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/engine/cm.h"
#include "ibcm/sim/fabric.h"

IBCM_API_BEGIN

namespace ibcm::sim {

/// ConnectParams for a REQ from `from` to `to` over the direct path between them, with the values
/// rdma_cm uses on RoCE (packet lifetime 16, CM response timeout 20, 15 retries).
ConnectParams make_connect_params(const Fabric& f, NodeId from, NodeId to, uint64_t service_id,
                                  uint32_t qpn, uint32_t psn);

struct AutoPolicy {
  enum class OnReq : uint8_t {
    Accept,         ///< REP at once
    Reject,         ///< REJ with reject_reason
    MraThenAccept,  ///< MRA at once, REP accept_delay later
    Ignore,         ///< nothing: the active side times out
  };
  OnReq on_req = OnReq::Accept;
  wire::RejReason reject_reason = wire::RejReason::ConsumerDefined;
  uint8_t mra_service_timeout = 20;
  Time accept_delay = std::chrono::milliseconds(100);
  bool send_rtu = true;     ///< on REP
  bool answer_dreq = true;  ///< DREP on DREQ
  bool answer_lap = true;
  wire::ApStatus apr_status = wire::ApStatus::Success;
  bool answer_sidr = true;
  wire::SidrStatus sidr_status = wire::SidrStatus::Success;
  uint32_t sidr_qkey = 0x11223344;
  /// DREQ this long after the connection becomes ESTABLISHED on this node.
  std::optional<Time> disconnect_after;
  /// QPNs come from a per-node counter starting here, restarting here after a reboot, as a real
  /// HCA hands out the same QPNs again after a reset.
  uint32_t first_qpn = 0x100;
  /// Service IDs listened on at attach() and again after every reboot.
  std::vector<uint64_t> listen;
};

struct AutoTally {
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t mra_sent = 0;
  uint64_t rtu_sent = 0;
  uint64_t drep_sent = 0;
  uint64_t apr_sent = 0;
  uint64_t sidr_replied = 0;
  uint64_t disconnected = 0;
  uint64_t failed = 0;  ///< consumer calls the Cm refused (each also annotated in the ladder)
};

/// Copies share their state, so a test can keep one to inspect after attach() handed it to the
/// fabric.
class AutoConsumer {
 public:
  explicit AutoConsumer(AutoPolicy policy = {});

  /// Becomes node n's consumer and boot handler, and listens on policy().listen if n is up.
  void attach(Fabric& f, NodeId n);
  void handle(Fabric& f, NodeId n, const Event& e);
  uint32_t allocate_qpn(Fabric& f, NodeId n);
  /// REQ from `from` to `to` with a fresh QPN and a random PSN.
  Expected<ConnId, Error> connect(Fabric& f, NodeId from, NodeId to, uint64_t service_id);

  AutoPolicy& policy();
  const AutoTally& tally() const;

 private:
  struct IBCM_PRIVATE State;
  void listen_all(Fabric& f, NodeId n);
  void check(Fabric& f, NodeId n, const Status& s, const char* what);
  std::shared_ptr<State> s_;
};

}  // namespace ibcm::sim

IBCM_API_END
