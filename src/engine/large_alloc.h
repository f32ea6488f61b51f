// Memory for the engine's large index tables (by the peer's comm ID and QPN, by our comm ID), in
// huge pages where the system offers them.
//
// With a million connections each index spans 8-16 MB, and every handshake touches a few random
// slots in them: with 4 KB pages each such touch is also a TLB miss, and the
// page walk costs more than the cache miss (the more so in a virtual machine, where each walk is
// two). The engine's prefetches do not hide it: a prefetch that misses the TLB waits for the walk.
// An allocation of 2 MB or more is therefore whole 2 MB pages, aligned, and on Linux mapped fresh
// and marked MADV_HUGEPAGE, so that transparent huge pages back it when they are enabled in
// "madvise" mode (Debian's default) as well as "always". Elsewhere, or when the kernel says no, it
// is ordinary memory: only the speed differs. Smaller allocations are ordinary allocations.
//
// The connection records stay in ordinary memory: a handshake reuses a record freed by an earlier
// one (hot in the cache), and a growing vector of records in huge pages made each new 2 MB page a
// stall (the kernel clears, and may first compact, the whole page on the first touch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace ibcm::engine {

constexpr size_t kHugePage = size_t{2} << 20;

inline size_t large_size(size_t bytes) {  // whole huge pages
  return (bytes + kHugePage - 1) & ~(kHugePage - 1);
}

inline void* allocate_large(size_t bytes) {
  if (bytes < kHugePage) return ::operator new(bytes);
  const size_t size = large_size(bytes);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Fresh pages from the kernel, not from malloc: glibc serves a large request from memory its heap
  // already holds once a large block has been freed (its mmap threshold rises to that size), and
  // pages already there in 4 KB stay 4 KB whatever madvise says. A pair of 1M-connection CMs made
  // after another's were freed ran at 1.4-1.5x the cost at 1k instead of 1.1x.
  void* raw =
      ::mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t at = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t start = (at + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1);
  if (start > at) ::munmap(raw, start - at);
  if (const size_t tail = at + kHugePage - start)
    ::munmap(reinterpret_cast<void*>(start + size), tail);
  ::madvise(reinterpret_cast<void*>(start), size,
            MADV_HUGEPAGE);  // a hint: failure means 4 KB pages
  return reinterpret_cast<void*>(start);
#else
  return ::operator new (size, std::align_val_t{kHugePage});
#endif
}

inline void free_large(void* p, size_t bytes) {
  if (!p) return;
  if (bytes < kHugePage) {
    ::operator delete(p);
    return;
  }
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  ::munmap(p, large_size(bytes));
#else
  ::operator delete (p, std::align_val_t{kHugePage});
#endif
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
