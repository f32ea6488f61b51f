#include "ibcm/wire/time.h"

#include <gtest/gtest.h>

using namespace ibcm::wire;
using namespace std::chrono;

TEST(CmTime, ExactValues) {
  EXPECT_EQ(cm_time(0), nanoseconds(4096));
  EXPECT_EQ(cm_time(20), nanoseconds(4294967296));  // 4.096 us * 2^20 = 4.294967296 s
  EXPECT_EQ(cm_time(31), nanoseconds(int64_t{4096} << 31));
}

TEST(CmTime, InverseIsTheSmallestExponentCovering) {
  for (uint8_t t = 0; t < 32; ++t) {
    EXPECT_EQ(to_cm_time(cm_time(t)), t);
    if (t > 0) {
      EXPECT_EQ(to_cm_time(cm_time(t) - nanoseconds(1)), t);
    }
    if (t < 31) {
      EXPECT_EQ(to_cm_time(cm_time(t) + nanoseconds(1)), t + 1);
    }
  }
  EXPECT_EQ(to_cm_time(nanoseconds(0)), 0);
  EXPECT_EQ(to_cm_time(hours(100)), 31);
}
