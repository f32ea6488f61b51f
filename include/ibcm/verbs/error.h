/// @file
/// What a verbs call that failed reports: which call, the errno it gave, and one line for a person.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ibcm/api.h"

IBCM_API_BEGIN

namespace ibcm::verbs {

/// The libibverbs calls the binding makes, named for counters and messages.
enum class Call : uint8_t {
  OpenDevice,
  QueryPort,
  QueryGid,
  PkeyIndex,
  AllocPd,
  CreateCompChannel,
  CreateCq,
  ReqNotifyCq,
  GetCqEvent,
  CreateQp,
  ModifyQp,
  RegMr,
  PostSend,
  PostRecv,
  PollCq,
  CreateAh,
  kCount,
};
std::string_view to_string(Call c);  ///< "ibv_modify_qp", ...

struct VerbsError {
  Call call = Call::OpenDevice;
  int code = 0;         ///< errno
  std::string message;  ///< one line: what failed and why, ready to print
};

/// A VerbsError for `call` failing with errno `code`; `what` says what it was doing.
VerbsError verbs_error(Call call, int code, std::string_view what);

}  // namespace ibcm::verbs

IBCM_API_END
