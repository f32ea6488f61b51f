// The seam over the real libibverbs. Every call maps errors to an errno the same way: libibverbs
// returns -1 + errno from some calls, a positive errno from others, NULL + errno from creations.
#include <endian.h>
#include <fcntl.h>

#include <cerrno>

#include "ibcm/verbs/verbs_api.h"

namespace ibcm::verbs {

namespace {

template <class T>
Made<T> made(T* p) {
  if (p) return p;
  return Unexpected<int>{errno ? errno : ENOMEM};
}

// Calls that return 0, or -1 with errno set, or (newer providers) the errno itself.
int status(int rc) {
  if (rc == 0) return 0;
  if (rc > 0) return rc;
  return errno ? errno : EIO;
}

class LibVerbs final : public Verbs {
 public:
  std::vector<std::string> device_names() override {
    std::vector<std::string> names;
    int n = 0;
    ibv_device** list = ibv_get_device_list(&n);
    if (!list) return names;
    for (int i = 0; i < n; ++i) names.emplace_back(ibv_get_device_name(list[i]));
    ibv_free_device_list(list);
    return names;
  }

  Made<ibv_context> open_device(std::string_view name) override {
    int n = 0;
    ibv_device** list = ibv_get_device_list(&n);
    if (!list) return Unexpected<int>{errno ? errno : ENODEV};
    ibv_context* ctx = nullptr;
    int err = ENODEV;
    for (int i = 0; i < n; ++i) {
      if (name != ibv_get_device_name(list[i])) continue;
      errno = 0;
      ctx = ibv_open_device(list[i]);
      if (!ctx) err = errno ? errno : ENODEV;
      break;
    }
    ibv_free_device_list(list);  // an open context keeps its device
    if (!ctx) return Unexpected<int>{err};
    return ctx;
  }
  int close_device(ibv_context* ctx) override { return status(ibv_close_device(ctx)); }
  int query_port(ibv_context* ctx, uint8_t port, ibv_port_attr& out) override {
    return status(ibv_query_port(ctx, port, &out));
  }
  int query_gid(ibv_context* ctx, uint8_t port, int index, ibv_gid& out) override {
    return status(ibv_query_gid(ctx, port, index, &out));
  }
  int pkey_index(ibv_context* ctx, uint8_t port, uint16_t pkey) override {
    errno = 0;
    int i = ibv_get_pkey_index(ctx, port, htobe16(pkey));
    return i >= 0 ? i : -(errno ? errno : ENOENT);
  }

  Made<ibv_pd> alloc_pd(ibv_context* ctx) override {
    errno = 0;
    return made(ibv_alloc_pd(ctx));
  }
  int dealloc_pd(ibv_pd* pd) override { return status(ibv_dealloc_pd(pd)); }

  Made<ibv_comp_channel> create_comp_channel(ibv_context* ctx) override {
    errno = 0;
    ibv_comp_channel* ch = ibv_create_comp_channel(ctx);
    if (!ch) return made(ch);
    int flags = ::fcntl(ch->fd, F_GETFL);
    if (flags < 0 || ::fcntl(ch->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
      int err = errno;
      ibv_destroy_comp_channel(ch);
      return Unexpected<int>{err};
    }
    return ch;
  }
  int destroy_comp_channel(ibv_comp_channel* ch) override {
    return status(ibv_destroy_comp_channel(ch));
  }
  Made<ibv_cq> create_cq(ibv_context* ctx, int cqe, void* cq_context,
                         ibv_comp_channel* ch) override {
    errno = 0;
    return made(ibv_create_cq(ctx, cqe, cq_context, ch, 0));
  }
  int destroy_cq(ibv_cq* cq) override { return status(ibv_destroy_cq(cq)); }
  int req_notify_cq(ibv_cq* cq) override { return status(ibv_req_notify_cq(cq, 0)); }
  int get_cq_event(ibv_comp_channel* ch, ibv_cq*& cq, void*& cq_context) override {
    errno = 0;
    return status(ibv_get_cq_event(ch, &cq, &cq_context));
  }
  void ack_cq_events(ibv_cq* cq, unsigned n) override { ibv_ack_cq_events(cq, n); }
  int poll_cq(ibv_cq* cq, std::span<ibv_wc> out) override {
    int n = ibv_poll_cq(cq, static_cast<int>(out.size()), out.data());
    return n >= 0 ? n : -EIO;  // providers return a negative number, not an errno
  }

  Made<ibv_qp> create_qp(ibv_pd* pd, ibv_qp_init_attr& attr) override {
    errno = 0;
    return made(ibv_create_qp(pd, &attr));
  }
  int destroy_qp(ibv_qp* qp) override { return status(ibv_destroy_qp(qp)); }
  int modify_qp(ibv_qp* qp, ibv_qp_attr& attr, int mask) override {
    errno = 0;
    return status(ibv_modify_qp(qp, &attr, mask));
  }

  Made<ibv_mr> reg_mr(ibv_pd* pd, void* addr, size_t length, int access) override {
    errno = 0;
    return made(ibv_reg_mr(pd, addr, length, access));
  }
  int dereg_mr(ibv_mr* mr) override { return status(ibv_dereg_mr(mr)); }
  int post_send(ibv_qp* qp, ibv_send_wr& wr, ibv_send_wr*& bad) override {
    return status(ibv_post_send(qp, &wr, &bad));
  }
  int post_recv(ibv_qp* qp, ibv_recv_wr& wr, ibv_recv_wr*& bad) override {
    return status(ibv_post_recv(qp, &wr, &bad));
  }

  Made<ibv_ah> create_ah(ibv_pd* pd, ibv_ah_attr& attr) override {
    errno = 0;
    return made(ibv_create_ah(pd, &attr));
  }
  int destroy_ah(ibv_ah* ah) override { return status(ibv_destroy_ah(ah)); }
};

}  // namespace

std::unique_ptr<Verbs> libverbs() {
  return std::make_unique<LibVerbs>();
}

}  // namespace ibcm::verbs
