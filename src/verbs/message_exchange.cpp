#include "ibcm/verbs/message_exchange.h"

#include <endian.h>

#include <array>
#include <cstring>
#include <utility>

namespace ibcm::verbs {

Expected<MessageExchange, VerbsError> MessageExchange::open(Verbs& v, ibv_pd* pd, ibv_qp* qp,
                                                            ibv_cq* cq, uint32_t count,
                                                            uint32_t size, bool datagram) {
  // As ucmatose: no bytes, no messages.
  if (size == 0) count = 0;
  const size_t bytes = (size_t{count} + 1) * (size + (datagram ? kGrhBytes : 0));
  std::unique_ptr<uint8_t[]> buf;
  ibv_mr* mr = nullptr;
  if (count > 0) {
    buf = std::make_unique<uint8_t[]>(bytes);
    auto m = v.reg_mr(pd, buf.get(), bytes, IBV_ACCESS_LOCAL_WRITE);
    if (!m)
      return Unexpected{
          verbs_error(Call::RegMr, m.error(), "a buffer of " + std::to_string(bytes) + " bytes")};
    mr = *m;
  }
  return MessageExchange(v, qp, cq, count, size, datagram, std::move(buf), mr);
}

MessageExchange::MessageExchange(Verbs& v, ibv_qp* qp, ibv_cq* cq, uint32_t count, uint32_t size,
                                 bool datagram, std::unique_ptr<uint8_t[]> buf, ibv_mr* mr)
    : verbs_(&v),
      qp_(qp),
      cq_(cq),
      count_(count),
      size_(size),
      datagram_(datagram),
      buf_(std::move(buf)),
      mr_(mr) {}

MessageExchange::MessageExchange(MessageExchange&& o) noexcept
    : verbs_(o.verbs_),
      qp_(o.qp_),
      cq_(o.cq_),
      count_(o.count_),
      size_(o.size_),
      datagram_(o.datagram_),
      peer_(o.peer_),
      buf_(std::move(o.buf_)),
      mr_(std::exchange(o.mr_, nullptr)),
      sends_posted_(o.sends_posted_),
      sends_done_(o.sends_done_),
      recvs_posted_(o.recvs_posted_),
      recvs_done_(o.recvs_done_),
      stats_(std::move(o.stats_)) {}

MessageExchange::~MessageExchange() {
  if (mr_) verbs_->dereg_mr(mr_);
}

ibv_sge MessageExchange::slot(uint32_t i) const {
  ibv_sge sge{};
  sge.addr = reinterpret_cast<uintptr_t>(buf_.get()) + uint64_t{i} * stride();
  sge.length = i == count_ ? size_ : stride();
  sge.lkey = mr_->lkey;
  return sge;
}

Expected<Ok, VerbsError> MessageExchange::post_receives() {
  while (recvs_posted_ < count_) {
    ibv_sge sge = slot(recvs_posted_);
    ibv_recv_wr wr{};
    wr.wr_id = recvs_posted_;
    wr.sg_list = &sge;
    wr.num_sge = 1;
    ibv_recv_wr* bad = nullptr;
    if (int rc = verbs_->post_recv(qp_, wr, bad); rc != 0)
      return Unexpected{verbs_error(
          Call::PostRecv, rc,
          "receive " + std::to_string(recvs_posted_ + 1) + " of " + std::to_string(count_))};
    ++recvs_posted_;
  }
  return Ok{};
}

Expected<Ok, VerbsError> MessageExchange::post_sends() {
  while (sends_posted_ < count_) {
    ibv_sge sge = slot(count_);
    ibv_send_wr wr{};
    wr.wr_id = kSendFlag | sends_posted_;
    wr.sg_list = &sge;
    wr.num_sge = 1;
    wr.opcode = IBV_WR_SEND;
    wr.send_flags = IBV_SEND_SIGNALED;  // the QP signals all anyway (sq_sig_all), as ucmatose's
    if (datagram_) {
      wr.opcode = IBV_WR_SEND_WITH_IMM;
      wr.imm_data = htobe32(peer_.own_qpn);
      wr.wr.ud.ah = peer_.ah;
      wr.wr.ud.remote_qpn = peer_.qpn;
      wr.wr.ud.remote_qkey = peer_.qkey;
    }
    ibv_send_wr* bad = nullptr;
    if (int rc = verbs_->post_send(qp_, wr, bad); rc != 0)
      return Unexpected{verbs_error(
          Call::PostSend, rc,
          "send " + std::to_string(sends_posted_ + 1) + " of " + std::to_string(count_))};
    ++sends_posted_;
  }
  return Ok{};
}

Expected<size_t, VerbsError> MessageExchange::poll(Time now) {
  size_t taken = 0;
  std::array<ibv_wc, 16> wcs;
  for (;;) {
    int n = verbs_->poll_cq(cq_, wcs);
    if (n < 0) return Unexpected{verbs_error(Call::PollCq, -n, "the exchange's CQ")};
    for (int i = 0; i < n; ++i) take(wcs[i], now);
    taken += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < wcs.size()) return taken;
  }
}

void MessageExchange::take(const ibv_wc& wc, Time now) {
  if (!stats_.first_completion) stats_.first_completion = now;
  // An error completion's opcode is undefined: the wr_id says which queue it came from.
  const bool send = (wc.wr_id & kSendFlag) != 0;
  (send ? sends_done_ : recvs_done_)++;
  if (wc.status != IBV_WC_SUCCESS) {
    if (wc.status == IBV_WC_WR_FLUSH_ERR) ++stats_.flushed;
    if (stats_.errors++ == 0) stats_.first_error = ibv_wc_status_str(wc.status);
    return;
  }
  if (send) {
    ++stats_.messages_sent;
    stats_.bytes_sent += size_;
  } else {
    if ((wc.wc_flags & IBV_WC_WITH_IMM) && !stats_.first_immediate)
      stats_.first_immediate = be32toh(wc.imm_data);
    ++stats_.messages_received;
    // A datagram's GRH room is not part of the message.
    stats_.bytes_received +=
        datagram_ && wc.byte_len >= kGrhBytes ? wc.byte_len - kGrhBytes : wc.byte_len;
  }
}

bool MessageExchange::complete() const {
  return sends_done_ >= count_ && recvs_done_ >= count_;
}

}  // namespace ibcm::verbs
