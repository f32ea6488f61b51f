// What device_client and device_server share: ibcm's engine on an RDMA port through the kernel's
// MAD layer (umad, in place of the kernel CM, which must not be loaded), the verbs binding that
// gives each connection a real RC QP and moves it through its states as the engine's events say,
// and one message each way with plain libibverbs calls. Peers are rdma_cm programs (rdma-core's
// ucmatose, say) or each other. Needs root (or access to /dev/infiniband/umad*).
#pragma once

#include <infiniband/verbs.h>
#include <sys/random.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "ibcm/transport/runtime.h"
#include "ibcm/umad/umad_transport.h"
#include "ibcm/verbs/device.h"
#include "ibcm/verbs/qp_binding.h"

namespace example {

using namespace ibcm;

constexpr uint16_t kPort = 7471;  // the rdma_cm (TCP) port: ucmatose's default
constexpr uint32_t kRoom = 4096;  // bytes a receive takes (ucmatose sends 100 by default)

// One node: the first RDMA device with an ACTIVE port, its engine and its QPs.
struct Node {
  std::unique_ptr<Runtime> rt;
  IpEndpoint local;  // the address our RoCE v2 GID names
  std::unique_ptr<verbs::Verbs> verbs = verbs::libverbs();
  std::optional<verbs::Device> device;
  std::unique_ptr<verbs::QpBinding> qps;
  ibv_mr* mr = nullptr;
  char buf[2 * kRoom] = {};  // registered: a receive's room, then our message's
  char* recv_buf = buf;
  char* send_buf = buf + kRoom;
  bool sent = false, received = false;  // completed, well or not
  bool ok = true;

  ~Node() {
    qps.reset();  // the QPs go before the memory they use
    if (mr) ibv_dereg_mr(mr);
  }

  bool open(const char* name) {
    auto t = umad::UmadTransport::open(umad::UmadOptions{});
    if (!t) return error(name, t.error().message);
    const umad::LocalPort port = (*t)->local_port();
    local = endpoint_of(port.gid, 0);
    auto d = verbs::Device::open(*verbs, port.device, port.port);
    if (!d) return error(name, d.error().message);
    device.emplace(std::move(*d));
    verbs::BindingOptions bo;
    bo.sgid_index = port.gid_index;
    auto b = verbs::QpBinding::open(*device, bo);
    if (!b) return error(name, b.error().message);
    qps = std::move(*b);
    // (An int: C++20 deprecates mixing the two enums ibv_reg_mr's macro combines.)
    mr = ibv_reg_mr(device->pd(), buf, sizeof buf, int{IBV_ACCESS_LOCAL_WRITE});
    if (!mr) return error(name, "cannot register memory");
    Config config;  // the CA GUID the kernel CM would send (a rebooted node is known by it)
    config.ca_guid = umad::read_node_guid(umad::kSysfsInfiniband, port.device).value_or(1);
    if (::getrandom(&config.seed, sizeof config.seed, 0) < 0) config.seed = 1;  // comm IDs
    rt = std::make_unique<Runtime>(config, std::move(*t));
    std::string address = local.to_string();  // "ADDR:0": the port means nothing here
    std::printf("%s on %s port %u, %s\n", name, port.device.c_str(), port.port,
                address.substr(0, address.rfind(':')).c_str());
    return true;
  }

  static bool error(const char* name, const std::string& what) {
    std::fprintf(stderr, "%s: %s\n", name, what.c_str());
    return false;
  }

  // A receive on the connection's QP: posted before the REQ or REP goes out.
  bool post_receive(ibv_qp* qp) {
    ibv_sge sge{reinterpret_cast<uintptr_t>(recv_buf), kRoom, mr->lkey};
    ibv_recv_wr wr{}, *bad = nullptr;
    wr.sg_list = &sge, wr.num_sge = 1;
    return ibv_post_recv(qp, &wr, &bad) == 0;
  }

  // Our message, once the connection is ESTABLISHED (the QP is in RTS).
  bool post_send(ibv_qp* qp, const std::string& text) {
    std::snprintf(send_buf, kRoom, "%s", text.c_str());
    ibv_sge sge{reinterpret_cast<uintptr_t>(send_buf), static_cast<uint32_t>(text.size() + 1),
                mr->lkey};
    ibv_send_wr wr{}, *bad = nullptr;
    wr.wr_id = 1, wr.sg_list = &sge, wr.num_sge = 1;
    wr.opcode = IBV_WR_SEND, wr.send_flags = IBV_SEND_SIGNALED;
    return ibv_post_send(qp, &wr, &bad) == 0;
  }

  // Takes the completions of every QP whose CQ signalled; true once both ours are in.
  bool take_completions() {
    auto ready = qps->take_completion_events();
    if (!ready) return !error("completions", ready.error().message);
    for (uint32_t qpn : *ready) {
      const verbs::BoundQp* q = qps->find_qpn(qpn);
      ibv_wc wc;
      while (q && ibv_poll_cq(q->cq, 1, &wc) == 1) {
        bool is_send = wc.wr_id == 1;
        (is_send ? sent : received) = true;
        if (wc.status != IBV_WC_SUCCESS) {
          std::printf("%s: %s\n", is_send ? "send" : "receive", ibv_wc_status_str(wc.status));
          ok = false;
        } else if (!is_send) {
          std::string text(recv_buf, strnlen(recv_buf, wc.byte_len));
          for (char& c : text)
            if (!std::isprint(static_cast<unsigned char>(c))) c = '.';
          std::printf("received %u bytes: \"%s\"\n", wc.byte_len, text.c_str());
        }
      }
    }
    return sent && received;
  }
};

}  // namespace example
