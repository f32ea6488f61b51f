// The umad transport's DirectSender on a RoCEv2 GID: RoceSender over the kernel's IP stack.
#pragma once

#include <memory>

#include "ibcm/umad/umad_transport.h"

namespace ibcm::umad {

// Null when the port's GID is not a RoCEv2 one, or the socket cannot be opened (IPv4 without
// CAP_NET_RAW): the transport then writes every MAD to umad.
std::unique_ptr<DirectSender> roce_direct_sender(const LocalPort& port);

}  // namespace ibcm::umad
