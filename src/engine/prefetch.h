// A software prefetch of one cache line, for the lookup tables' slots.
#pragma once

namespace ibcm::engine {

inline void prefetch_line(const void* p) {
  __builtin_prefetch(p);
  // GCC 12 deletes a prefetch (in every form tried) unless something after it is opaque.
  asm volatile("" ::: "memory");
}

}  // namespace ibcm::engine
