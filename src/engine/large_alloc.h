// Memory for the engine's large index tables (by the peer's comm ID and QPN, by our comm ID), in
// huge pages where the system offers them.
//
// With a million connections each index spans 8-16 MB, and every handshake touches a few random
// slots in them: with 4 KB pages each such touch is also a TLB miss, and the
// page walk costs more than the cache miss (the more so in a virtual machine, where each walk is
// two). The engine's prefetches do not hide it: a prefetch that misses the TLB waits for the walk.
// An allocation of 2 MB or more is therefore aligned to 2 MB and, on Linux, marked
// MADV_HUGEPAGE, so that transparent huge pages back it when they are enabled in "madvise" mode
// (Debian's default) as well as "always". Elsewhere, or when the kernel says no, it is ordinary
// memory: only the speed differs. Smaller allocations are ordinary allocations.
//
// The connection records stay in ordinary memory: a handshake reuses a record freed by an earlier
// one (hot in the cache), and a growing vector of records in huge pages made each new 2 MB page a
// stall (the kernel clears, and may first compact, the whole page on the first touch).
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace ibcm::engine {

constexpr size_t kHugePage = size_t{2} << 20;

inline void* allocate_large(size_t bytes) {
  if (bytes < kHugePage) return ::operator new(bytes);
  // Whole huge pages: the tail of the last one is not left to small pages.
  const size_t rounded = (bytes + kHugePage - 1) & ~(kHugePage - 1);
  void* p = ::operator new (rounded, std::align_val_t{kHugePage});
#if defined(MADV_HUGEPAGE)
  ::madvise(p, rounded, MADV_HUGEPAGE);  // a hint: failure only means small pages
#endif
  return p;
}

inline void free_large(void* p, size_t bytes) {
  if (!p) return;
  if (bytes < kHugePage)
    ::operator delete(p);
  else
    ::operator delete (p, std::align_val_t{kHugePage});
}

template <class T>
struct LargeArrayDeleter {
  size_t n = 0;
  void operator()(T* p) const { free_large(p, n * sizeof(T)); }
};

// n value-initialized (zeroed) Ts of a trivial type, for the index tables' slot arrays.
template <class T>
using LargeArray = std::unique_ptr<T[], LargeArrayDeleter<T>>;
template <class T>
LargeArray<T> make_large_array(size_t n) {
  static_assert(std::is_trivially_destructible_v<T>);
  T* p = static_cast<T*>(allocate_large(n * sizeof(T)));
  std::uninitialized_value_construct_n(p, n);
  return LargeArray<T>(p, LargeArrayDeleter<T>{n});
}

}  // namespace ibcm::engine
