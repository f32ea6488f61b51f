// The simulator's PRNG: reproducible, in range, and unbiased enough for fault statistics.
#include "ibcm/sim/random.h"

#include <gtest/gtest.h>

#include <array>

namespace ibcm::sim {
namespace {

TEST(Rng, SameSeedSameStreamDifferentSeedDifferentStream) {
  Rng a(1), b(1), c(2);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next();
    EXPECT_EQ(x, b.next());
    differs |= x != c.next();
  }
  EXPECT_TRUE(differs);
}

TEST(Rng, KnownFirstOutputs) {
  // Pinned so that a change to the generator, which would silently change every recorded
  // simulation, shows up here.
  EXPECT_EQ(mix64(0), 0xe220a8397b1dcdafull);  // splitmix64's published first output
  Rng r(0);
  EXPECT_EQ(r.next(), 0x1a70a846bd9cc2a9ull);
  EXPECT_EQ(r.next(), 0x6a0ef250cd2b9e80ull);
}

TEST(Rng, BelowIsInRangeAndRoughlyUniform) {
  Rng r(9);
  std::array<int, 6> hist{};
  for (int i = 0; i < 60000; ++i) {
    const uint64_t x = r.below(6);
    ASSERT_LT(x, 6u);
    ++hist[x];
  }
  for (int h : hist) EXPECT_NEAR(h, 10000, 500);
  EXPECT_EQ(r.below(1), 0u);
}

TEST(Rng, ChanceAndUptoEdges) {
  Rng r(3), untouched(3);
  EXPECT_FALSE(r.chance(0));
  EXPECT_TRUE(r.chance(1));
  EXPECT_EQ(r.upto(std::chrono::nanoseconds{0}).count(), 0);
  // None of those drew a number.
  EXPECT_EQ(r.next(), untouched.next());
  int hits = 0;
  for (int i = 0; i < 100000; ++i) hits += r.chance(0.25);
  EXPECT_NEAR(hits, 25000, 1000);
  for (int i = 0; i < 1000; ++i) {
    const auto d = r.upto(std::chrono::nanoseconds{7});
    EXPECT_GE(d.count(), 0);
    EXPECT_LE(d.count(), 7);
  }
  for (int i = 0; i < 1000; ++i) {
    const double u = r.unit();
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
  }
}

}  // namespace
}  // namespace ibcm::sim
