// Starting PSNs from the kernel's random source, as the kernel CM and rdma_cm draw theirs.
#pragma once

#include <cstdint>

namespace ibcm::verbs {

// 24 random bits.
uint32_t random_psn();

}  // namespace ibcm::verbs
