#include "ibcm/verbs/device.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "ibcm/verbs/qp_attr.h"

namespace ibcm::verbs {

namespace {

std::string_view state_name(ibv_port_state s) {
  switch (s) {
    case IBV_PORT_DOWN:
      return "DOWN";
    case IBV_PORT_INIT:
      return "INIT";
    case IBV_PORT_ARMED:
      return "ARMED";
    case IBV_PORT_ACTIVE:
      return "ACTIVE";
    case IBV_PORT_ACTIVE_DEFER:
      return "ACTIVE_DEFER";
    default:
      return "NOP";
  }
}

std::string joined(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::string out;
  for (const auto& n : names) out.append(out.empty() ? "" : ", ").append(n);
  return out;
}

}  // namespace

Expected<Device, VerbsError> Device::open(Verbs& v, std::string_view name, uint8_t port_num) {
  std::string what = "device " + std::string(name);
  auto ctx = v.open_device(name);
  if (!ctx) {
    VerbsError e = verbs_error(Call::OpenDevice, ctx.error(), what);
    if (ctx.error() == ENODEV)
      e.message =
          "no RDMA device " + std::string(name) + " (devices: " + joined(v.device_names()) + ")";
    return Unexpected{e};
  }
  what += " port " + std::to_string(port_num);
  ibv_port_attr pa{};
  if (int rc = v.query_port(*ctx, port_num, pa); rc != 0) {
    v.close_device(*ctx);
    return Unexpected{verbs_error(Call::QueryPort, rc, what)};
  }
  if (pa.state != IBV_PORT_ACTIVE) {
    v.close_device(*ctx);
    VerbsError e{Call::QueryPort, ENETDOWN, ""};
    e.message = what + " is " + std::string(state_name(pa.state)) + ", not ACTIVE";
    return Unexpected{e};
  }
  auto pd = v.alloc_pd(*ctx);
  if (!pd) {
    v.close_device(*ctx);
    return Unexpected{verbs_error(Call::AllocPd, pd.error(), what)};
  }
  PortInfo p;
  p.state = pa.state;
  p.active_mtu = from_ibv(pa.active_mtu);
  p.link_layer = pa.link_layer == IBV_LINK_LAYER_INFINIBAND ? IBV_LINK_LAYER_INFINIBAND
                                                            : IBV_LINK_LAYER_ETHERNET;
  p.lid = pa.lid;
  p.lmc = pa.lmc;
  p.gid_table_len = pa.gid_tbl_len;
  return Device(v, std::string(name), port_num, *ctx, *pd, p);
}

Device::Device(Verbs& v, std::string name, uint8_t port_num, ibv_context* ctx, ibv_pd* pd,
               PortInfo p)
    : verbs_(&v), name_(std::move(name)), port_num_(port_num), ctx_(ctx), pd_(pd), port_(p) {}

Device::Device(Device&& o) noexcept
    : verbs_(o.verbs_),
      name_(std::move(o.name_)),
      port_num_(o.port_num_),
      ctx_(std::exchange(o.ctx_, nullptr)),
      pd_(std::exchange(o.pd_, nullptr)),
      port_(o.port_) {}

Device::~Device() {
  if (pd_) verbs_->dealloc_pd(pd_);
  if (ctx_) verbs_->close_device(ctx_);
}

Expected<wire::Gid, VerbsError> Device::gid(int index) const {
  ibv_gid g{};
  if (int rc = verbs_->query_gid(ctx_, port_num_, index, g); rc != 0)
    return Unexpected{verbs_error(
        Call::QueryGid, rc,
        name_ + " port " + std::to_string(port_num_) + " GID index " + std::to_string(index))};
  wire::Gid out;
  std::memcpy(out.data(), g.raw, out.size());
  return out;
}

Expected<uint16_t, VerbsError> Device::pkey_index(uint16_t pkey) const {
  int i = verbs_->pkey_index(ctx_, port_num_, pkey);
  if (i < 0) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%04x", pkey);
    return Unexpected{verbs_error(Call::PkeyIndex, -i,
                                  name_ + " port " + std::to_string(port_num_) + " P_Key " + hex)};
  }
  return static_cast<uint16_t>(i);
}

}  // namespace ibcm::verbs
