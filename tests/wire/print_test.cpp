// The text forms of wire values that every output (to_text, to_json, event lines, probe rows)
// shares.
#include "ibcm/wire/print.h"

#include <gtest/gtest.h>

#include <array>

using namespace ibcm;

TEST(Print, BytesAreTwoLowercaseHexDigitsEachLeadingZerosKept) {
  const std::array<uint8_t, 4> b{0x00, 0x0a, 0xbc, 0xff};
  EXPECT_EQ(wire::bytes_to_hex(b), "000abcff");
  EXPECT_EQ(wire::bytes_to_hex({}), "");
}

TEST(Print, IdsAreZeroPaddedToTheirWidth) {
  EXPECT_EQ(wire::id_to_string(0x1234, 32), "0x00001234");
}
