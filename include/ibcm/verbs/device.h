/// @file
/// One port of an open RDMA device, with the protection domain every QP and MR of ibcm lives in.
#pragma once

#include <infiniband/verbs.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "ibcm/api.h"
#include "ibcm/result.h"
#include "ibcm/verbs/error.h"
#include "ibcm/verbs/verbs_api.h"
#include "ibcm/wire/types.h"

IBCM_API_BEGIN

namespace ibcm::verbs {

struct PortInfo {
  ibv_port_state state = IBV_PORT_NOP;
  wire::Mtu active_mtu = wire::Mtu::None;
  uint8_t link_layer = IBV_LINK_LAYER_ETHERNET;
  uint16_t lid = 0;
  uint8_t lmc = 0;
  int gid_table_len = 0;
};

class Device {
 public:
  /// Opens `name` (e.g. rxe0) and queries port `port_num`. Fails with one clear line when there is
  /// no such device (naming those there are), the port does not exist or is not ACTIVE.
  static Expected<Device, VerbsError> open(Verbs& verbs, std::string_view name, uint8_t port_num);

  Device(Device&& o) noexcept;
  Device& operator=(Device&&) = delete;
  Device(const Device&) = delete;
  ~Device();

  const std::string& name() const { return name_; }
  uint8_t port_num() const { return port_num_; }
  const PortInfo& port() const { return port_; }
  /// Entry `index` of the port's GID table.
  Expected<wire::Gid, VerbsError> gid(int index) const;
  /// The index of `pkey` in the port's P_Key table (RoCE: 0xFFFF is at 0).
  Expected<uint16_t, VerbsError> pkey_index(uint16_t pkey) const;

  Verbs& verbs() const { return *verbs_; }
  ibv_context* context() const { return ctx_; }
  ibv_pd* pd() const { return pd_; }

 private:
  Device(Verbs& v, std::string name, uint8_t port_num, ibv_context* ctx, ibv_pd* pd, PortInfo p);

  Verbs* verbs_;
  std::string name_;
  uint8_t port_num_;
  ibv_context* ctx_;
  ibv_pd* pd_;
  PortInfo port_;
};

}  // namespace ibcm::verbs

IBCM_API_END
