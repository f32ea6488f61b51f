// The data exchange of rdma-core's ucmatose on one connected QP: `count` receives posted before
// the connection is made (connect or accept), `count` sends of `size` bytes once it is
// established (every send signalled, none inline), and every completion both ways awaited.
#pragma once

#include <infiniband/verbs.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ibcm/engine/types.h"
#include "ibcm/result.h"
#include "ibcm/verbs/error.h"
#include "ibcm/verbs/verbs_api.h"

namespace ibcm::verbs {

struct ExchangeStats {
  std::optional<Time> first_completion;
  uint32_t messages_sent = 0;  // sends completed successfully
  uint32_t messages_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint32_t errors = 0;  // completions with an error status (flushes included)
  uint32_t flushed = 0;  // of which flushes: the QP went to ERR (a disconnect), not a failure
  std::string
      first_error;  // ibv_wc_status_str of the first, e.g. "transport retry counter exceeded"
};

class MessageExchange {
 public:
  // Registers room for `count` received messages of `size` bytes and one to send from.
  static Expected<MessageExchange, VerbsError> open(Verbs& verbs, ibv_pd* pd, ibv_qp* qp,
                                                    ibv_cq* cq, uint32_t count, uint32_t size);
  MessageExchange(MessageExchange&& o) noexcept;
  MessageExchange& operator=(MessageExchange&&) = delete;
  MessageExchange(const MessageExchange&) = delete;
  ~MessageExchange();  // deregisters the buffer

  Expected<Ok, VerbsError> post_receives();
  Expected<Ok, VerbsError> post_sends();
  // Takes every completion waiting on the CQ (`now` stamps the first). Returns how many.
  Expected<size_t, VerbsError> poll(Time now);

  // Every send and every receive has completed, well or not.
  bool complete() const;
  uint32_t sends_outstanding() const { return sends_posted_ - sends_done_; }
  uint32_t receives_outstanding() const { return recvs_posted_ - recvs_done_; }
  const ExchangeStats& stats() const { return stats_; }

  // The layout of the registered buffer: receive slot i at i * size, the send slot last.
  static constexpr uint64_t kSendFlag = uint64_t{1} << 63;  // in wr_id: a send, not a receive

 private:
  MessageExchange(Verbs& v, ibv_qp* qp, ibv_cq* cq, uint32_t count, uint32_t size,
                  std::unique_ptr<uint8_t[]> buf, ibv_mr* mr);
  void take(const ibv_wc& wc, Time now);
  ibv_sge slot(uint32_t i) const;  // receive slot i, or the send slot (i == count)

  Verbs* verbs_;
  ibv_qp* qp_;
  ibv_cq* cq_;
  uint32_t count_;
  uint32_t size_;
  std::unique_ptr<uint8_t[]> buf_;
  ibv_mr* mr_;
  uint32_t sends_posted_ = 0, sends_done_ = 0;
  uint32_t recvs_posted_ = 0, recvs_done_ = 0;
  ExchangeStats stats_;
};

}  // namespace ibcm::verbs
