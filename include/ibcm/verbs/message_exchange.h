/// @file
/// The data exchange of rdma-core's ucmatose on one connected QP: `count` receives posted before
/// the connection is made (connect or accept), `count` sends of `size` bytes once it is
/// established (every send signalled, none inline), and every completion both ways awaited.
#pragma once

#include <infiniband/verbs.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ibcm/api.h"
#include "ibcm/engine/types.h"
#include "ibcm/result.h"
#include "ibcm/verbs/error.h"
#include "ibcm/verbs/verbs_api.h"

IBCM_API_BEGIN

namespace ibcm::verbs {

struct ExchangeStats {
  std::optional<Time> first_completion;
  uint32_t messages_sent = 0;  ///< sends completed successfully
  uint32_t messages_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint32_t errors = 0;   ///< completions with an error status (flushes included)
  uint32_t flushed = 0;  ///< of which flushes: the QP went to ERR (a disconnect), not a failure
  /// The immediate data of the first message received with one: a udaddy client's QPN.
  std::optional<uint32_t> first_immediate;
  std::string
      first_error;  ///< ibv_wc_status_str of the first, e.g. "transport retry counter exceeded"
};

/// Where a datagram (UD) exchange sends: the peer's QP and Q_Key, as a SIDR_REP names them, through
/// an address handle. Each send carries our QPN as immediate data, as udaddy's do: its server
/// answers the QP that immediate names.
struct DatagramPeer {
  ibv_ah* ah = nullptr;
  uint32_t qpn = 0;
  uint32_t qkey = 0;
  uint32_t own_qpn = 0;
};

class MessageExchange {
 public:
  /// A UD receive starts with 40 bytes for the GRH (filled in on RoCE), before the message.
  static constexpr uint32_t kGrhBytes = 40;

  /// Registers room for `count` received messages of `size` bytes and one to send from. A
  /// datagram exchange (UD QP) leaves GRH room in each receive and sends to send_to()'s peer.
  static Expected<MessageExchange, VerbsError> open(Verbs& verbs, ibv_pd* pd, ibv_qp* qp,
                                                    ibv_cq* cq, uint32_t count, uint32_t size,
                                                    bool datagram = false);
  /// Datagram exchanges: where post_sends() sends.
  void send_to(const DatagramPeer& peer) { peer_ = peer; }
  MessageExchange(MessageExchange&& o) noexcept;
  MessageExchange& operator=(MessageExchange&&) = delete;
  MessageExchange(const MessageExchange&) = delete;
  ~MessageExchange();  ///< deregisters the buffer

  Expected<Ok, VerbsError> post_receives();
  Expected<Ok, VerbsError> post_sends();
  /// Takes every completion waiting on the CQ (`now` stamps the first). Returns how many.
  Expected<size_t, VerbsError> poll(Time now);

  /// Every send and every receive has completed, well or not.
  bool complete() const;
  bool received_all() const { return recvs_done_ >= count_; }
  uint32_t sends_outstanding() const { return sends_posted_ - sends_done_; }
  uint32_t receives_outstanding() const { return recvs_posted_ - recvs_done_; }
  const ExchangeStats& stats() const { return stats_; }

  /// The layout of the registered buffer: receive slot i at i * stride(), the send slot last.
  static constexpr uint64_t kSendFlag = uint64_t{1} << 63;  ///< in wr_id: a send, not a receive

 private:
  MessageExchange(Verbs& v, ibv_qp* qp, ibv_cq* cq, uint32_t count, uint32_t size, bool datagram,
                  std::unique_ptr<uint8_t[]> buf, ibv_mr* mr);
  uint32_t stride() const { return size_ + (datagram_ ? kGrhBytes : 0); }
  void take(const ibv_wc& wc, Time now);
  ibv_sge slot(uint32_t i) const;  ///< receive slot i, or the send slot (i == count)

  Verbs* verbs_;
  ibv_qp* qp_;
  ibv_cq* cq_;
  uint32_t count_;
  uint32_t size_;
  bool datagram_ = false;
  DatagramPeer peer_;
  std::unique_ptr<uint8_t[]> buf_;
  ibv_mr* mr_;
  uint32_t sends_posted_ = 0, sends_done_ = 0;
  uint32_t recvs_posted_ = 0, recvs_done_ = 0;
  ExchangeStats stats_;
};

}  // namespace ibcm::verbs

IBCM_API_END
