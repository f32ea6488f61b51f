/// @file
/// Where `ibcm daemon` serves rdma_cm programs: one socket per node, the same for the daemon, the
/// library (lib/ibcm/librdmacm.so.1) and `ibcm run`.
#pragma once

#include <cstdlib>
#include <string>

#include "ibcm/api.h"

IBCM_API_BEGIN

namespace ibcm::daemon {

inline constexpr char kDefaultSocket[] = "/run/ibcm/cm.sock";
inline constexpr char kSocketEnv[] = "IBCM_SOCKET";  ///< overrides kDefaultSocket

/// $IBCM_SOCKET, or /run/ibcm/cm.sock.
inline std::string socket_path() {
  const char* env = std::getenv(kSocketEnv);
  return env && *env ? env : kDefaultSocket;
}

/// Whether a daemon answers on `path` now.
bool daemon_answers(const std::string& path);

}  // namespace ibcm::daemon

IBCM_API_END
