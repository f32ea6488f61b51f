// Config::max_reqs_in_flight: the REQs out to one peer and not yet answered, and the connects to
// it that wait for room, in connect order.
#pragma once

#include <cstdint>
#include <utility>

#include "engine/fifo.h"
#include "ibcm/engine/types.h"
#include "ibcm/wire/types.h"

namespace ibcm::engine {

struct ReqWindow {
  wire::Gid peer{};
  uint32_t in_flight = 0;
  bool ready = false;  // in Impl::req_ready_: room and connects waiting
  // (connection slot, its comm ID): a pair whose slot no longer holds that ID, or no longer
  // waits, was given up meanwhile and is skipped.
  Fifo<std::pair<uint32_t, ConnId>> waiting;
};

}  // namespace ibcm::engine
