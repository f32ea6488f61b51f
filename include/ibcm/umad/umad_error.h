/// @file
/// Why a umad transport (or the device lookup before it) could not be opened: one line for the
/// user, and a kind the caller can act on (the CLI exits 2 for ClassInUse).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ibcm/api.h"

IBCM_API_BEGIN

namespace ibcm::umad {

enum class UmadErrorKind : uint8_t {
  NoDevice,         ///< no such RDMA device (or none at all)
  NoPort,           ///< the device has no port of that number
  PortNotActive,    ///< the port exists but is not ACTIVE (or no port is)
  NoGid,            ///< no usable GID: none is the RoCEv2 GID of the address, or the index is wrong
  NoPkey,           ///< the P_Key is not in the port's P_Key table (or names no partition)
  UmadUnavailable,  ///< the umad device cannot be opened (permission, ib_umad not loaded)
  ClassInUse,       ///< class 0x07 is registered already: the kernel CM owns it
  RegisterFailed,   ///< the agent registration failed for another reason
};
std::string_view to_string(UmadErrorKind k);

struct UmadError {
  UmadErrorKind kind;
  std::string message;  ///< one line, no trailing newline
};

}  // namespace ibcm::umad

IBCM_API_END
