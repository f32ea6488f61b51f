#include "rdmacm/cma_state.h"

#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "rdmacm/daemon_link.h"

namespace ibcm::rdmacm {

namespace {

std::mutex g_ids_mu;
std::unordered_map<uint32_t, IdPriv*> g_ids;

struct Devices {
  std::once_flag opened;
  std::vector<ibv_context*> contexts;  // null-terminated for rdma_get_devices
  std::vector<ibv_pd*> pds;
  std::vector<DeviceLimits> limits;  // queried once at open, as librdmacm's cma_dev holds them
  std::mutex pd_mu;
};
Devices g_devices;

void open_devices() {
  std::call_once(g_devices.opened, [] {
    int n = 0;
    ibv_device** list = ibv_get_device_list(&n);
    for (int i = 0; list && i < n; ++i)
      if (ibv_context* c = ibv_open_device(list[i])) g_devices.contexts.push_back(c);
    if (list) ibv_free_device_list(list);
    g_devices.pds.assign(g_devices.contexts.size(), nullptr);
    for (ibv_context* c : g_devices.contexts) {
      ibv_device_attr a{};
      (void)ibv_query_device(c, &a);
      g_devices.limits.push_back({static_cast<uint8_t>(std::min(a.max_qp_rd_atom, 255)),
                                  static_cast<uint8_t>(std::min(a.max_qp_init_rd_atom, 255))});
    }
    g_devices.contexts.push_back(nullptr);
  });
}

}  // namespace

void register_id(IdPriv* p) {
  std::lock_guard lock(g_ids_mu);
  g_ids[p->handle] = p;
}

void unregister_id(uint32_t handle) {
  std::lock_guard lock(g_ids_mu);
  g_ids.erase(handle);
}

IdPriv* find_id(uint32_t handle) {
  std::lock_guard lock(g_ids_mu);
  auto it = g_ids.find(handle);
  return it == g_ids.end() ? nullptr : it->second;
}

IdPriv* next_untold_id(const rdma_event_channel* channel) {
  std::lock_guard lock(g_ids_mu);
  for (auto& [handle, p] : g_ids)
    if (p->id.channel == channel && !p->removal_told) {
      p->removal_told = true;
      return p;
    }
  return nullptr;
}

ibv_context** device_list(int* count) {
  open_devices();
  if (count) *count = static_cast<int>(g_devices.contexts.size() - 1);
  return g_devices.contexts.data();
}

ibv_context* device_named(const char* name) {
  open_devices();
  for (ibv_context* c : g_devices.contexts)
    if (c && std::strcmp(ibv_get_device_name(c->device), name) == 0) return c;
  return nullptr;
}

DeviceLimits device_limits(ibv_context* ctx) {
  open_devices();
  for (size_t i = 0; i + 1 < g_devices.contexts.size(); ++i)
    if (g_devices.contexts[i] == ctx) return g_devices.limits[i];
  return {};
}

ibv_pd* default_pd(ibv_context* ctx) {
  open_devices();
  std::lock_guard lock(g_devices.pd_mu);
  for (size_t i = 0; i + 1 < g_devices.contexts.size(); ++i)
    if (g_devices.contexts[i] == ctx) {
      if (!g_devices.pds[i]) g_devices.pds[i] = ibv_alloc_pd(ctx);
      return g_devices.pds[i];
    }
  return nullptr;
}

void apply_route(IdPriv& p, const daemon::proto::Route& r) {
  p.route = r;
  rdma_addr& a = p.id.route.addr;
  if (r.src.ss_family != 0) std::memcpy(&a.src_storage, &r.src, sizeof r.src);
  if (r.dst.ss_family != 0) std::memcpy(&a.dst_storage, &r.dst, sizeof r.dst);
  if (r.device[0] != 0) {
    p.id.verbs = device_named(r.device);
    p.id.port_num = r.port_num;
  }
  std::memcpy(a.addr.ibaddr.sgid.raw, r.sgid, 16);
  std::memcpy(a.addr.ibaddr.dgid.raw, r.dgid, 16);
  a.addr.ibaddr.pkey = htons(r.pkey);
  if (r.resolved >= 2) {
    ibv_sa_path_rec& path = p.path;
    path = {};
    std::memcpy(path.sgid.raw, r.sgid, 16);
    std::memcpy(path.dgid.raw, r.dgid, 16);
    path.slid = htons(r.slid);
    path.dlid = htons(r.dlid);
    path.flow_label = htonl(r.flow_label);
    path.hop_limit = r.hop_limit;
    path.traffic_class = r.traffic_class;
    path.reversible = 1;
    path.numb_path = 1;
    path.pkey = htons(r.pkey);
    path.sl = r.sl;
    path.mtu_selector = 2;  // exactly
    path.mtu = r.mtu;
    path.rate_selector = 2;
    path.rate = r.rate;
    path.packet_life_time_selector = 2;
    path.packet_life_time = r.packet_life_time;
    p.id.route.path_rec = &p.path;
    p.id.route.num_paths = 1;
  }
}

verbs::QpContext qp_context(const IdPriv& p) {
  verbs::QpContext c;
  c.type = p.id.qp ? p.id.qp->qp_type : p.id.qp_type;
  c.link_layer = p.route.link_layer;
  c.port_num = p.route.port_num;
  c.sgid_index = p.route.sgid_index;
  c.pkey_index = p.route.pkey_index;
  c.responder_resources = p.responder_resources;
  return c;
}

QpAttr init_attr() {
  QpAttr a;
  a.state = QpState::Init;
  return a;
}

namespace {
double monotonic_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
}  // namespace

int move_qp(IdPriv& p, const QpAttr& a) {
  if (!p.id.qp) return 0;
  verbs::IbvModify m = verbs::to_ibv(a, qp_context(p));
  if (a.state == QpState::Rtr && p.id.qp->qp_type != IBV_QPT_UD) {
    // The connection's access (remote read and atomics once it has responder resources) goes
    // with RTR, which may change it: one modify fewer than librdmacm's INIT-again-then-RTR.
    verbs::IbvModify init = verbs::to_ibv(init_attr(), qp_context(p));
    m.attr.qp_access_flags = init.attr.qp_access_flags;
    m.mask |= IBV_QP_ACCESS_FLAGS;
  }
  int rc = ibv_modify_qp(p.id.qp, &m.attr, m.mask);
  // IBCM_RDMACM_TRACE=1: each transition on stderr, for finding why a QP does not talk.
  static const bool trace = [] {
    const char* t = std::getenv("IBCM_RDMACM_TRACE");
    return t && *t == '1';
  }();
  if (trace)
    std::fprintf(
        stderr,
        "librdmacm (ibcm): %.6f QP %u -> state %d mask 0x%x: access 0x%x dest_qpn %u rq_psn %u "
        "sq_psn %u mtu %d max_dest_rd_atomic %u max_rd_atomic %u timeout %u: %s\n",
        monotonic_seconds(), p.id.qp->qp_num, m.attr.qp_state, m.mask, m.attr.qp_access_flags,
        m.attr.dest_qp_num, m.attr.rq_psn, m.attr.sq_psn, m.attr.path_mtu,
        m.attr.max_dest_rd_atomic, m.attr.max_rd_atomic, m.attr.timeout,
        rc == 0 ? "ok" : std::strerror(rc));
  return rc;
}

void abandon(IdPriv& p) {
  daemon::proto::Request rej;
  rej.op = daemon::proto::Op::Reject;
  rej.id = p.handle;
  daemon::proto::Reply ignored;
  (void)call(rej, ignored);  // the connection may be gone already: nothing more to do then
  (void)qp_to_error(p);
}

int qp_to_error(IdPriv& p) {
  if (!p.id.qp) return 0;
  ibv_qp_attr a{};
  a.qp_state = IBV_QPS_ERR;
  return ibv_modify_qp(p.id.qp, &a, IBV_QP_STATE);
}

void close_channel(ChannelPriv* ch) {
  ::close(ch->channel.fd);
  delete ch;
}

void enter_channel(ChannelPriv& ch) {
  std::lock_guard lock(ch.mu);
  ++ch.readers;
}

void leave_channel(ChannelPriv& ch) {
  bool last = false;
  {
    std::lock_guard lock(ch.mu);
    last = --ch.readers == 0 && ch.destroyed;
  }
  if (last) close_channel(&ch);
}

}  // namespace ibcm::rdmacm
