// Two CMs back to back in one thread with zero latency: every MAD one side sends is handed to the
// other at once, in the transport Runtime's receive batches, and a consumer on each side answers
// every event after each batch, as the Runtime does (B accepts each REQ, A sends RTU for each REP,
// B answers each DREQ with DREP). No simulator, no copies in flight, no faults: what it costs is
// the engine. The nodes and the connection's parameters are the engine tests' pair's
// (tests/fixture/nodes.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "ibcm/engine/cm.h"
#include "ibcm/transport/runtime.h"

namespace ibcm::perf {

class CmPair {
 public:
  // timewait: Config::timewait on both sides (teardowns advance time past it).
  explicit CmPair(Time timewait = std::chrono::microseconds(1));

  Cm a;  // active: connects and disconnects
  Cm b;  // passive: listens, accepts, answers DREQ
  Time now{0};

  // Starts n handshakes from A with QPNs first_qpn, first_qpn + 1, ... (B accepts each with
  // QPN | 0x800000) and runs both sides until quiet. A's IDs of the connections that reached
  // ESTABLISHED are appended to *ids if given. Returns how many reached ESTABLISHED on both sides.
  size_t connect(size_t n, uint32_t first_qpn, std::vector<ConnId>* ids = nullptr);
  // A sends DREQ on each; B answers DREP; then time passes TIMEWAIT on both sides. Returns how
  // many connections left both sides (TIMEWAIT exit on each).
  size_t disconnect(std::span<const ConnId> ids);
  // Moves MADs and answers events until both sides are quiet.
  void pump();

  // Anything unexpected (a REJ, a timeout, a refused consumer call): 0 in a good run.
  uint64_t errors() const { return errors_; }

  static constexpr uint64_t kService = 0x1000000000001234ull;

 private:
  void drain_a();
  void drain_b();
  // Moves everything `from` has to send into `to` as the transport Runtime does: at most
  // Runtime::kReceiveBatch MADs a handle_mads call, then `to`'s events are answered (drain_to)
  // before the next batch. False if `from` had nothing to send.
  bool deliver(Cm& from, Cm& to, void (CmPair::*drain_to)());
  std::vector<Inbound> in_;
  std::vector<ConnId>* sink_ = nullptr;
  uint64_t a_established_ = 0, b_established_ = 0;
  uint64_t a_exits_ = 0, b_exits_ = 0;
  uint64_t errors_ = 0;
  ConnectParams params_;
};

}  // namespace ibcm::perf
