// The large-table allocator: small sizes are ordinary allocations; 2 MB and more come as whole,
// aligned 2 MB pages (so that transparent huge pages can back them), writable to their last byte,
// and given back whole; the arrays made from them start zeroed.
#include "engine/large_alloc.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

using namespace ibcm::engine;

TEST(LargeAlloc, TwoMegabytesAndMoreAreAlignedWholeHugePages) {
  for (size_t bytes : {kHugePage, kHugePage + 1, 3 * kHugePage - 7, 16 * kHugePage}) {
    void* p = allocate_large(bytes);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kHugePage, 0u) << bytes;
    EXPECT_EQ(large_size(bytes) % kHugePage, 0u);
    EXPECT_GE(large_size(bytes), bytes);
    std::memset(p, 0xA5, large_size(bytes));  // the whole rounded size is ours
    free_large(p, bytes);
  }
}

TEST(LargeAlloc, SmallSizesAreOrdinaryAllocations) {
  void* p = allocate_large(100);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, 100);
  free_large(p, 100);
  free_large(nullptr, kHugePage);  // nothing to give back
}

TEST(LargeAlloc, ArraysStartZeroed) {
  for (size_t n : {size_t{16}, kHugePage / sizeof(uint64_t) + 3}) {
    LargeArray<uint64_t> a = make_large_array<uint64_t>(n);
    uint64_t any = 0;
    for (size_t i = 0; i < n; ++i) any |= a[i];
    EXPECT_EQ(any, 0u) << n;
    a[n - 1] = 7;  // writable to the end
  }
}
