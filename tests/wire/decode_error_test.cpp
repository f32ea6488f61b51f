// Each way decode() refuses a MAD, one hand-made input at a time: the exact DecodeError and the
// header it reports. The bytes that break each rule are placed by the spec's offsets (IBTA Vol 1
// ch. 12.6, the CM message layouts), not by the schema, so a schema that names the wrong
// length field, or none, fails here. The property test covers random inputs.
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "ibcm/wire/mad.h"
#include "ibcm/wire/schema.h"
#include "wire/testkit.h"

using namespace ibcm::wire;

namespace {

constexpr uint64_t kTid = 0x0123456789abcdef;

std::vector<uint8_t> mad_of(const Message& m) {
  const MadBytes b = encode(make_mad(m, kTid));
  return {b.begin(), b.end()};
}

// decode() fails with `want`, and so does decode_into(); both report the header as read.
void expect_error(const std::vector<uint8_t>& bytes, DecodeError want) {
  auto got = decode(bytes);
  ASSERT_FALSE(got.has_value()) << "decoded, want " << to_string(want);
  EXPECT_EQ(got.error().error, want)
      << to_string(got.error().error) << ", want " << to_string(want);
  Mad out;
  auto failure = decode_into(bytes, out);
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->error, want);
  if (bytes.size() >= kMadHeaderSize) {
    MadHeader h;
    ASSERT_TRUE(decode_header(bytes, h));
    EXPECT_EQ(got.error().header, h);
    EXPECT_EQ(failure->header, h);
    EXPECT_EQ(out.header, h);
    EXPECT_EQ(h.transaction_id, kTid);
  }
}

void expect_ok(const std::vector<uint8_t>& bytes) {
  auto got = decode(bytes);
  EXPECT_TRUE(got.has_value()) << to_string(got.error().error);
}

constexpr size_t cm(size_t offset) {
  return kMadHeaderSize + offset;
}

TEST(DecodeError, ShortBuffer) {
  const auto good = mad_of(Rtu{1, 2, {}});
  expect_ok(good);
  for (size_t n : {0, 1, 23, 24, 100, 255}) {
    SCOPED_TRACE(n);
    expect_error({good.begin(), good.begin() + static_cast<long>(n)}, DecodeError::ShortBuffer);
  }
}

TEST(DecodeError, LongBuffer) {
  auto bytes = mad_of(Rtu{1, 2, {}});
  for (size_t extra : {1, 24, 256}) {
    SCOPED_TRACE(extra);
    std::vector<uint8_t> longer(bytes.size() + extra, 0);
    std::copy(bytes.begin(), bytes.end(), longer.begin());
    expect_error(longer, DecodeError::LongBuffer);
  }
}

TEST(DecodeError, BaseVersion) {
  for (uint8_t v : {0, 2, 0xff}) {
    auto bytes = mad_of(Rtu{});
    bytes[0] = v;
    expect_error(bytes, DecodeError::BaseVersion);
  }
}

TEST(DecodeError, MgmtClass) {
  // Subnet management (LID-routed and directed), subnet administration, and 0x87.
  for (uint8_t c : {0x01, 0x81, 0x03, 0x87}) {
    auto bytes = mad_of(Rtu{});
    bytes[1] = c;
    expect_error(bytes, DecodeError::MgmtClass);
  }
}

TEST(DecodeError, ClassVersion) {
  for (uint8_t v : {0, 1, 3}) {
    auto bytes = mad_of(Req{});
    bytes[2] = v;
    expect_error(bytes, DecodeError::ClassVersion);
  }
}

TEST(DecodeError, Method) {
  // The CM messages come only as Send; Send with the response bit is not a method either.
  for (uint8_t m : {0x01, 0x02, 0x81, 0x83, 0x00, 0x06}) {
    SCOPED_TRACE(static_cast<int>(m));
    auto bytes = mad_of(Dreq{});
    bytes[3] = m;
    expect_error(bytes, DecodeError::Method);
  }
  // ClassPortInfo comes as Get, Set or GetResp, never as Send.
  auto cpi = mad_of(ClassPortInfo{});
  for (uint8_t m : {0x01, 0x02, 0x81}) {
    cpi[3] = m;
    expect_ok(cpi);
  }
  for (uint8_t m : {0x03, 0x82, 0x00}) {
    SCOPED_TRACE(static_cast<int>(m));
    cpi[3] = m;
    expect_error(cpi, DecodeError::Method);
  }
}

TEST(DecodeError, UnknownAttribute) {
  // 0x0000, between ClassPortInfo and REQ, just past APR, and the top of the range.
  for (uint16_t attr : {0x0000, 0x0002, 0x000f, 0x001b, 0x0020, 0x1010, 0xffff}) {
    SCOPED_TRACE(attr);
    auto bytes = mad_of(Rtu{});
    bytes[16] = static_cast<uint8_t>(attr >> 8);
    bytes[17] = static_cast<uint8_t>(attr);
    expect_error(bytes, DecodeError::UnknownAttribute);
    bytes[3] = 0x01;  // a bad method too: the attribute is checked first
    expect_error(bytes, DecodeError::UnknownAttribute);
  }
}

// REJ RejectedInfoLength: CM data byte 9, bits 0-6 (bit 7 reserved); it counts the 72-byte ARI.
TEST(DecodeError, LengthFieldOfRej) {
  auto bytes = mad_of(Rej{});
  for (uint8_t len : {0, 72}) {
    bytes[cm(9)] = static_cast<uint8_t>(len << 1 | 1);  // the reserved bit set changes nothing
    expect_ok(bytes);
  }
  for (uint8_t len : {73, 100, 127}) {
    SCOPED_TRACE(static_cast<int>(len));
    bytes[cm(9)] = static_cast<uint8_t>(len << 1);
    expect_error(bytes, DecodeError::LengthField);
  }
}

// SIDR_REP AdditionalInformationLength: CM data byte 5; it counts the 72 bytes at byte 24.
TEST(DecodeError, LengthFieldOfSidrRep) {
  auto bytes = mad_of(SidrRep{});
  for (uint8_t len : {0, 72}) {
    bytes[cm(5)] = len;
    expect_ok(bytes);
  }
  for (uint8_t len : {73, 128, 255}) {
    SCOPED_TRACE(static_cast<int>(len));
    bytes[cm(5)] = len;
    expect_error(bytes, DecodeError::LengthField);
  }
}

// APR AdditionalInformationLength: CM data byte 8; it counts the 72 bytes at byte 12.
TEST(DecodeError, LengthFieldOfApr) {
  auto bytes = mad_of(Apr{});
  for (uint8_t len : {0, 72}) {
    bytes[cm(8)] = len;
    expect_ok(bytes);
  }
  for (uint8_t len : {73, 128, 255}) {
    SCOPED_TRACE(static_cast<int>(len));
    bytes[cm(8)] = len;
    expect_error(bytes, DecodeError::LengthField);
  }
}

// No other message has a length field: every bit of their CM data set, they still decode.
TEST(DecodeError, NoOtherMessageHasALengthField) {
  for (size_t i = 0; i < std::variant_size_v<Message>; ++i) {
    const Message m = testkit::message_of_index(i);
    const AttrId a = attr_of(m);
    if (a == AttrId::Rej || a == AttrId::SidrRep || a == AttrId::Apr) continue;
    SCOPED_TRACE(std::string(name_of(m)));
    auto bytes = mad_of(m);
    for (size_t b = kMadHeaderSize; b < kMadSize; ++b) bytes[b] = 0xff;
    expect_ok(bytes);
  }
}

// The schema's list of length fields, which decode() and the tests share, is the spec's.
TEST(DecodeError, TheSchemaListsExactlyTheSpecsLengthFields) {
  auto names = [](auto m) {
    using M = decltype(m);
    std::string out;
    for (const auto& r : kLengthRules<M>)
      out += std::string(Schema<M>::fields[r.field].name) + "<=" + std::to_string(r.max) + ";";
    return out;
  };
  EXPECT_EQ(names(Rej{}), "RejectedInfoLength<=72;");
  EXPECT_EQ(names(SidrRep{}), "AdditionalInformationLength<=72;");
  EXPECT_EQ(names(Apr{}), "AdditionalInformationLength<=72;");
  for (const auto& s : {names(Req{}), names(Mra{}), names(Rep{}), names(Rtu{}), names(Dreq{}),
                        names(Drep{}), names(SidrReq{}), names(Lap{}), names(ClassPortInfo{})})
    EXPECT_EQ(s, "");
}

// With several rules broken, the error is the first in decode()'s order: length of the buffer,
// BaseVersion, MgmtClass, ClassVersion, AttributeID, Method, length fields.
TEST(DecodeError, TheFirstBrokenRuleIsReported) {
  auto all_bad = mad_of(Rej{});
  all_bad[cm(9)] = 0xfe;  // RejectedInfoLength 127
  all_bad[3] = 0x01;      // Get
  all_bad[17] = 0x30;     // no such attribute
  all_bad[2] = 9;         // class version
  all_bad[1] = 0x81;      // class
  all_bad[0] = 7;         // base version
  const std::pair<size_t, DecodeError> repairs[] = {
      {0, DecodeError::MgmtClass},        {1, DecodeError::ClassVersion},
      {2, DecodeError::UnknownAttribute}, {17, DecodeError::Method},
      {3, DecodeError::LengthField},
  };
  auto longer = all_bad;
  longer.push_back(0);
  expect_error(longer, DecodeError::LongBuffer);
  expect_error(all_bad, DecodeError::BaseVersion);
  const auto good = mad_of(Rej{});
  for (auto [at, next] : repairs) {
    all_bad[at] = good[at];
    expect_error(all_bad, next);
  }
}

}  // namespace
