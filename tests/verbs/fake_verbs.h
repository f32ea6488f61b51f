// A verbs device in memory, for the binding's tests: no device, no privileges. It keeps each QP's
// state and refuses what a device refuses (an illegal transition, a send before RTS, destroying a
// CQ a QP still uses), records every ibv_modify_qp with its attributes and mask, hands out the
// lowest free QPN (so a destroyed QP's number comes back at once, as the tests need to see that
// the binding holds QPs through TIMEWAIT), fails the calls a test names, and counts live objects.
#pragma once

#include <cerrno>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ibcm/verbs/verbs_api.h"

namespace ibcm::verbs::test {

class FakeVerbs final : public Verbs {
 public:
  struct ModifyCall {
    uint32_t qpn;
    ibv_qp_attr attr;
    int mask;
  };
  struct Posted {
    uint64_t wr_id;
    uint32_t length;
  };
  struct Live {
    int contexts = 0, pds = 0, channels = 0, cqs = 0, qps = 0, mrs = 0, ahs = 0;
    int total() const { return contexts + pds + channels + cqs + qps + mrs + ahs; }
  };

  // --- what the device looks like ---
  std::vector<std::string> devices{"rxe0"};
  ibv_port_attr port{};
  std::vector<ibv_gid> gids;
  uint32_t first_qpn = 0x11;

  // --- faults: the errno the next such call fails with ---
  std::optional<int> fail_create_qp, fail_create_cq, fail_reg_mr, fail_post_send;
  // The next ibv_modify_qp to this state fails with fail_errno.
  std::optional<ibv_qp_state> fail_transition_to;
  int fail_errno = EINVAL;

  // --- what happened ---
  std::vector<ModifyCall> modify_calls;
  ibv_send_wr last_send{};  // the latest posted send (its sg_list no longer valid)
  Live live;
  std::vector<uint32_t> destroyed_qpns;

  FakeVerbs() {
    port.state = IBV_PORT_ACTIVE;
    port.active_mtu = IBV_MTU_1024;
    port.max_mtu = IBV_MTU_4096;
    port.link_layer = IBV_LINK_LAYER_ETHERNET;
    port.lid = 0;
    port.gid_tbl_len = 2;
    ibv_gid g{};
    gids.push_back(g);  // the link-local GID, unused here
    g.raw[10] = g.raw[11] = 0xff;
    g.raw[12] = 198, g.raw[13] = 51, g.raw[14] = 100, g.raw[15] = 3;
    gids.push_back(g);
  }
  ~FakeVerbs() override = default;

  // The modify calls made on one QP, in order.
  std::vector<ModifyCall> modifies_of(uint32_t qpn) const {
    std::vector<ModifyCall> out;
    for (const auto& m : modify_calls)
      if (m.qpn == qpn) out.push_back(m);
    return out;
  }
  std::vector<ibv_qp_state> states_of(uint32_t qpn) const {
    std::vector<ibv_qp_state> out;
    for (const auto& m : modifies_of(qpn)) out.push_back(m.attr.qp_state);
    return out;
  }
  bool qp_exists(uint32_t qpn) const { return qps_.count(qpn) != 0; }
  ibv_qp_state state(uint32_t qpn) const { return qps_.at(qpn)->state; }
  const std::deque<Posted>& sends(uint32_t qpn) const { return queues_.at(qpn).sends; }
  const std::deque<Posted>& receives(uint32_t qpn) const { return queues_.at(qpn).recvs; }

  // The device finishes every posted send of `qpn` with `status`.
  void complete_sends(uint32_t qpn, ibv_wc_status status = IBV_WC_SUCCESS) {
    Queues& q = queues_.at(qpn);
    while (!q.sends.empty()) {
      complete(qps_.at(qpn), q.sends.front(), IBV_WC_SEND, status, q.sends.front().length);
      q.sends.pop_front();
    }
  }
  // `n` messages of `bytes` arrive on `qpn`, each into the oldest posted receive (with immediate
  // data `imm`, in network order as a device gives it, if set).
  void arrive(uint32_t qpn, uint32_t n, uint32_t bytes, std::optional<uint32_t> imm = {}) {
    Queues& q = queues_.at(qpn);
    for (uint32_t i = 0; i < n && !q.recvs.empty(); ++i) {
      complete(qps_.at(qpn), q.recvs.front(), IBV_WC_RECV, IBV_WC_SUCCESS, bytes, imm);
      q.recvs.pop_front();
    }
  }

  // --- Verbs ---
  std::vector<std::string> device_names() override { return devices; }
  Made<ibv_context> open_device(std::string_view name) override {
    for (const auto& d : devices)
      if (d == name) {
        ++live.contexts;
        return own(std::make_unique<ibv_context>());
      }
    return Unexpected<int>{ENODEV};
  }
  int close_device(ibv_context* c) override { return release(c, live.contexts); }
  int query_port(ibv_context*, uint8_t port_num, ibv_port_attr& out) override {
    if (port_num != 1) return EINVAL;
    out = port;
    return 0;
  }
  int query_gid(ibv_context*, uint8_t port_num, int index, ibv_gid& out) override {
    if (port_num != 1 || index < 0 || index >= static_cast<int>(gids.size())) return EINVAL;
    out = gids[index];
    return 0;
  }
  int pkey_index(ibv_context*, uint8_t, uint16_t pkey) override {
    return pkey == 0xFFFF ? 0 : -ENOENT;
  }
  Made<ibv_pd> alloc_pd(ibv_context* c) override {
    auto pd = std::make_unique<ibv_pd>();
    pd->context = c;
    ++live.pds;
    return own(std::move(pd));
  }
  int dealloc_pd(ibv_pd* pd) override {
    if (live.qps > 0 || live.mrs > 0 || live.ahs > 0) return EBUSY;
    return release(pd, live.pds);
  }
  Made<ibv_comp_channel> create_comp_channel(ibv_context* c) override {
    auto ch = std::make_unique<ibv_comp_channel>();
    ch->context = c;
    ch->fd = 1000 + live.channels;  // never read: events come from get_cq_event
    ++live.channels;
    return own(std::move(ch));
  }
  int destroy_comp_channel(ibv_comp_channel* ch) override {
    if (live.cqs > 0) return EBUSY;
    return release(ch, live.channels);
  }
  Made<ibv_cq> create_cq(ibv_context* c, int cqe, void* cq_context, ibv_comp_channel* ch) override {
    if (fail_create_cq) return Unexpected<int>{*std::exchange(fail_create_cq, std::nullopt)};
    auto cq = std::make_unique<ibv_cq>();
    cq->context = c;
    cq->channel = ch;
    cq->cq_context = cq_context;
    cq->cqe = cqe;
    ++live.cqs;
    return own(std::move(cq));
  }
  int destroy_cq(ibv_cq* cq) override {
    for (const auto& [qpn, qp] : qps_)
      if (qp->send_cq == cq || qp->recv_cq == cq) return EBUSY;
    if (cqs_[cq].unacked > 0) return EBUSY;  // a real device would block here for ever
    cqs_.erase(cq);
    return release(cq, live.cqs);
  }
  int req_notify_cq(ibv_cq* cq) override {
    cqs_[cq].armed = true;
    return 0;
  }
  int get_cq_event(ibv_comp_channel* ch, ibv_cq*& cq, void*& cq_context) override {
    auto& q = events_[ch];
    if (q.empty()) return EAGAIN;
    cq = q.front();
    q.pop_front();
    cq_context = cq->cq_context;
    ++cqs_[cq].unacked;
    return 0;
  }
  void ack_cq_events(ibv_cq* cq, unsigned n) override { cqs_[cq].unacked -= static_cast<int>(n); }
  int poll_cq(ibv_cq* cq, std::span<ibv_wc> out) override {
    auto& q = cqs_[cq].wcs;
    size_t n = 0;
    for (; n < out.size() && !q.empty(); ++n) {
      out[n] = q.front();
      q.pop_front();
    }
    return static_cast<int>(n);
  }

  Made<ibv_qp> create_qp(ibv_pd* pd, ibv_qp_init_attr& a) override {
    if (fail_create_qp) return Unexpected<int>{*std::exchange(fail_create_qp, std::nullopt)};
    if (!a.send_cq || !a.recv_cq) return Unexpected<int>{EINVAL};
    init_attrs.push_back(a);
    auto qp = std::make_unique<ibv_qp>();
    qp->context = pd->context;
    qp->pd = pd;
    qp->send_cq = a.send_cq;
    qp->recv_cq = a.recv_cq;
    qp->qp_type = a.qp_type;
    qp->state = IBV_QPS_RESET;
    uint32_t qpn = first_qpn;
    while (qps_.count(qpn)) ++qpn;
    qp->qp_num = qpn;
    qps_[qpn] = qp.get();
    queues_[qpn] = {};
    ++live.qps;
    return own(std::move(qp));
  }
  int destroy_qp(ibv_qp* qp) override {
    destroyed_qpns.push_back(qp->qp_num);
    qps_.erase(qp->qp_num);
    queues_.erase(qp->qp_num);
    return release(qp, live.qps);
  }
  int modify_qp(ibv_qp* qp, ibv_qp_attr& attr, int mask) override {
    modify_calls.push_back({qp->qp_num, attr, mask});
    if (fail_transition_to && *fail_transition_to == attr.qp_state) {
      fail_transition_to.reset();
      return fail_errno;
    }
    if (!(mask & IBV_QP_STATE) || !legal(qp->state, attr.qp_state)) return EINVAL;
    qp->state = attr.qp_state;
    if (qp->state == IBV_QPS_ERR) flush(qp);
    return 0;
  }

  Made<ibv_mr> reg_mr(ibv_pd* pd, void* addr, size_t length, int access) override {
    if (fail_reg_mr) return Unexpected<int>{*std::exchange(fail_reg_mr, std::nullopt)};
    auto mr = std::make_unique<ibv_mr>();
    mr->pd = pd;
    mr->addr = addr;
    mr->length = length;
    mr->lkey = mr->rkey = 0x1000 + static_cast<uint32_t>(live.mrs);
    (void)access;
    ++live.mrs;
    return own(std::move(mr));
  }
  int dereg_mr(ibv_mr* mr) override { return release(mr, live.mrs); }
  int post_send(ibv_qp* qp, ibv_send_wr& wr, ibv_send_wr*& bad) override {
    if (fail_post_send) {
      bad = &wr;
      return *std::exchange(fail_post_send, std::nullopt);
    }
    if (qp->state != IBV_QPS_RTS && qp->state != IBV_QPS_ERR) {
      bad = &wr;
      return EINVAL;
    }
    queues_[qp->qp_num].sends.push_back({wr.wr_id, total_length(wr.sg_list, wr.num_sge)});
    last_send = wr;
    if (qp->state == IBV_QPS_ERR) flush(qp);
    return 0;
  }
  int post_recv(ibv_qp* qp, ibv_recv_wr& wr, ibv_recv_wr*& bad) override {
    if (qp->state == IBV_QPS_RESET) {
      bad = &wr;
      return EINVAL;
    }
    queues_[qp->qp_num].recvs.push_back({wr.wr_id, total_length(wr.sg_list, wr.num_sge)});
    if (qp->state == IBV_QPS_ERR) flush(qp);
    return 0;
  }
  Made<ibv_ah> create_ah(ibv_pd* pd, ibv_ah_attr&) override {
    auto ah = std::make_unique<ibv_ah>();
    ah->pd = pd;
    ++live.ahs;
    return own(std::move(ah));
  }
  int destroy_ah(ibv_ah* ah) override { return release(ah, live.ahs); }

  std::vector<ibv_qp_init_attr> init_attrs;

 private:
  struct Queues {
    std::deque<Posted> sends, recvs;
  };
  struct CqState {
    std::deque<ibv_wc> wcs;
    bool armed = false;
    int unacked = 0;
  };

  // RESET -> INIT -> RTR -> RTS, INIT and RTS to themselves, anything to ERR or RESET.
  static bool legal(ibv_qp_state from, ibv_qp_state to) {
    if (to == IBV_QPS_ERR || to == IBV_QPS_RESET) return true;
    switch (from) {
      case IBV_QPS_RESET:
        return to == IBV_QPS_INIT;
      case IBV_QPS_INIT:
        return to == IBV_QPS_INIT || to == IBV_QPS_RTR;
      case IBV_QPS_RTR:
        return to == IBV_QPS_RTS;
      case IBV_QPS_RTS:
        return to == IBV_QPS_RTS;
      default:
        return false;
    }
  }
  static uint32_t total_length(const ibv_sge* sge, int n) {
    uint32_t len = 0;
    for (int i = 0; i < n; ++i) len += sge[i].length;
    return len;
  }
  void complete(ibv_qp* qp, const Posted& p, ibv_wc_opcode op, ibv_wc_status status, uint32_t bytes,
                std::optional<uint32_t> imm = {}) {
    ibv_wc wc{};
    if (imm) {
      wc.wc_flags = IBV_WC_WITH_IMM;
      wc.imm_data = htobe32(*imm);
    }
    wc.wr_id = p.wr_id;
    wc.status = status;
    wc.opcode = op;
    wc.byte_len = bytes;
    wc.qp_num = qp->qp_num;
    ibv_cq* cq = op == IBV_WC_RECV ? qp->recv_cq : qp->send_cq;
    CqState& s = cqs_[cq];
    s.wcs.push_back(wc);
    if (s.armed) {  // one event per arming, as a device raises it
      s.armed = false;
      events_[cq->channel].push_back(cq);
    }
  }
  // A QP in ERR completes everything outstanding with a flush error.
  void flush(ibv_qp* qp) {
    Queues& q = queues_[qp->qp_num];
    for (const auto& p : q.sends) complete(qp, p, IBV_WC_SEND, IBV_WC_WR_FLUSH_ERR, 0);
    for (const auto& p : q.recvs) complete(qp, p, IBV_WC_RECV, IBV_WC_WR_FLUSH_ERR, 0);
    q.sends.clear();
    q.recvs.clear();
  }
  template <class T>
  T* own(std::unique_ptr<T> p) {
    T* raw = p.get();
    objects_[raw] = std::shared_ptr<void>(p.release(), [](void* v) { delete static_cast<T*>(v); });
    return raw;
  }
  int release(void* p, int& count) {
    if (!objects_.erase(p)) return EINVAL;  // not ours, or freed twice
    --count;
    return 0;
  }

  std::map<void*, std::shared_ptr<void>> objects_;
  std::map<uint32_t, ibv_qp*> qps_;
  std::map<uint32_t, Queues> queues_;
  std::map<ibv_cq*, CqState> cqs_;
  std::map<ibv_comp_channel*, std::deque<ibv_cq*>> events_;
};

}  // namespace ibcm::verbs::test
