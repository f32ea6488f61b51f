// The program's command socket to `ibcm daemon`: one per process, opened at the first call, one
// request at a time (a mutex), each answered before the next goes.
#pragma once

#include <cstdint>

#include "daemon/protocol.h"

namespace ibcm::rdmacm {

// Sends r and waits for its reply. Returns 0 and fills `out`, or an errno: the daemon's answer,
// or ENODEV when no daemon answers (said once on stderr, with what to do). With fd_out, a
// descriptor the reply carries (CreateChannel) is stored there.
int call(daemon::proto::Request& r, daemon::proto::Reply& out, int* fd_out = nullptr);

// Sends r and does not wait: the daemon sends no reply. For a request whose outcome the program
// learns from its events anyway (the RTU after CONNECT_RESPONSE). 0 or an errno.
int post(daemon::proto::Request& r);

// call() that sets errno and returns -1 on failure, 0 on success: the librdmacm convention.
int call_or_errno(daemon::proto::Request& r, daemon::proto::Reply& out);

// One line on stderr, once per distinct text: what ibcm's librdmacm does not do.
void say_once(const char* what);

}  // namespace ibcm::rdmacm
