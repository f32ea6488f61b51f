#include "ibcm/verbs/error.h"

#include <array>
#include <cstring>

namespace ibcm::verbs {

std::string_view to_string(Call c) {
  static constexpr std::array<std::string_view, static_cast<size_t>(Call::kCount)> kNames = {
      "ibv_open_device",  "ibv_query_port",          "ibv_query_gid", "ibv_get_pkey_index",
      "ibv_alloc_pd",     "ibv_create_comp_channel", "ibv_create_cq", "ibv_req_notify_cq",
      "ibv_get_cq_event", "ibv_create_qp",           "ibv_modify_qp", "ibv_reg_mr",
      "ibv_post_send",    "ibv_post_recv",           "ibv_poll_cq",   "ibv_create_ah",
  };
  auto i = static_cast<size_t>(c);
  return i < kNames.size() ? kNames[i] : "?";
}

VerbsError verbs_error(Call call, int code, std::string_view what) {
  VerbsError e;
  e.call = call;
  e.code = code;
  e.message.append(what).append(": ").append(to_string(call)).append(" failed: ");
  e.message.append(std::strerror(code));
  return e;
}

}  // namespace ibcm::verbs
