// Round-trip properties of the MAD codec, for each of the twelve CM attributes and the MAD
// header, with random values drawn field by field from the schema tables: each number a random
// value of its width, each byte field random bytes. Every property runs kIterations times from a
// fixed base seed; a failure names the seed of its iteration. IBCM_PROPERTY_SEED=<n> in the
// environment runs from another base seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "ibcm/wire/mad.h"
#include "ibcm/wire/schema.h"
#include "wire/testkit.h"

using namespace ibcm::wire;
using namespace ibcm::wire::testkit;

namespace {

constexpr int kIterations = 1000;

uint64_t base_seed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("IBCM_PROPERTY_SEED");
    return env ? std::strtoull(env, nullptr, 0) : uint64_t{0x1bc3'5eed'0000'0000};
  }();
  return seed;
}

// Runs body(rng) kIterations times, each with its own seed, and stops at the first failure with
// the seed in the failure message.
template <class Body>
void for_each_seed(uint64_t salt, Body body) {
  for (int i = 0; i < kIterations; ++i) {
    const uint64_t seed = base_seed() + salt * 1'000'003 + static_cast<uint64_t>(i);
    char trace[96];
    std::snprintf(trace, sizeof trace,
                  "seed 0x%016" PRIx64 " (iteration %d from base 0x%" PRIx64 ")", seed, i,
                  base_seed());
    SCOPED_TRACE(trace);
    std::mt19937_64 rng(seed);
    body(rng);
    if (::testing::Test::HasFailure()) return;
  }
}

// Each field of m as encode() must have written it: get() truncated to the field's width, at the
// field's bits (checked with the test's own bit reader).
template <class M>
void expect_fields_at_their_bits(const M& m, std::span<const uint8_t> region) {
  for (const auto& f : Schema<M>::fields) {
    if (f.is_number()) {
      EXPECT_EQ(read_bits(region, f.first_bit(), f.width), f.get(m) & width_mask(f.width))
          << Schema<M>::name << "." << f.name;
    } else {
      auto want = f.bytes(m);
      EXPECT_TRUE(std::equal(want.begin(), want.end(), region.begin() + f.byte))
          << Schema<M>::name << "." << f.name;
    }
  }
}

// decode(bytes) gives `want`, and encode() of that gives `clean`.
void expect_decodes_to(const MadBytes& bytes, const Mad& want, const MadBytes& clean) {
  auto back = decode(bytes);
  ASSERT_TRUE(back.has_value()) << to_string(back.error().error);
  EXPECT_EQ(*back, want);
  EXPECT_EQ(byte_diff(encode(*back), clean), "");
}

template <class M>
class MessageProperty : public ::testing::Test {
 protected:
  static constexpr uint64_t salt() { return static_cast<uint64_t>(Schema<M>::attr); }
  // A MAD with a random M and random header, valid for decode() except perhaps its lengths.
  static Mad random_mad(std::mt19937_64& rng, bool clamp) {
    Mad mad = valid_mad(M{}, rng);
    if (!clamp) fill_fields(std::get<M>(mad.message), rng);  // lengths of any value
    return mad;
  }
};

struct MessageName {
  template <class M>
  static std::string GetName(int) {
    return std::string(Schema<M>::name);
  }
};

using AllMessages = ::testing::Types<Req, Mra, Rej, Rep, Rtu, Dreq, Drep, SidrReq, SidrRep, Lap,
                                     Apr, ClassPortInfo>;
TYPED_TEST_SUITE(MessageProperty, AllMessages, MessageName);

// encode puts each field at its bits and nothing in reserved bits; decode gives the MAD back
// (or, when a length field exceeds 72, fails with LengthField); encode(decode(bytes)) == bytes.
TYPED_TEST(MessageProperty, EncodeDecodeRoundTrip) {
  using M = TypeParam;
  for_each_seed(this->salt(), [](std::mt19937_64& rng) {
    const Mad mad = TestFixture::random_mad(rng, /*clamp=*/false);
    const MadBytes bytes = encode(mad);

    expect_fields_at_their_bits(mad.header, bytes);
    expect_fields_at_their_bits(std::get<M>(mad.message),
                                std::span<const uint8_t>(bytes).subspan(kMadHeaderSize));
    const MadBytes mask = field_mask(mad.message);
    for (size_t i = 0; i < kMadSize; ++i)
      EXPECT_EQ(bytes[i] & ~mask[i], 0) << "reserved bits set in MAD byte " << i;

    auto back = decode(bytes);
    if (!lengths_in_range(mad.message)) {
      ASSERT_FALSE(back.has_value());
      EXPECT_EQ(back.error().error, DecodeError::LengthField);
      return;
    }
    expect_decodes_to(bytes, mad, bytes);
  });
}

// decode_into a Mad that already holds an M (the engine reuses one Mad for every MAD it reads, and
// decodes a message of the type it holds over in place) gives what decode() of the new bytes alone
// gives: nothing of the old message is left behind.
TYPED_TEST(MessageProperty, DecodeIntoAMadHoldingTheSameMessageLeavesNothingOfIt) {
  for_each_seed(this->salt(), [](std::mt19937_64& rng) {
    const MadBytes first = encode(TestFixture::random_mad(rng, /*clamp=*/true));
    const MadBytes second = encode(TestFixture::random_mad(rng, /*clamp=*/true));
    Mad reused{MadHeader{}, Rtu{}};
    ASSERT_FALSE(decode_into(first, reused).has_value());
    ASSERT_NE(reused, *decode(second));  // random messages differ: the test can fail
    ASSERT_FALSE(decode_into(second, reused).has_value());
    EXPECT_EQ(reused, *decode(second));
  });
}

// Any 256 bytes with a valid header and lengths decode, and encode back to the same bytes with
// the reserved bits zeroed.
TYPED_TEST(MessageProperty, DecodeEncodeOfRandomBytesZeroesOnlyReservedBits) {
  using M = TypeParam;
  for_each_seed(this->salt() + 100, [](std::mt19937_64& rng) {
    MadBytes bytes;
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    const Message kind = M{};
    std::span<uint8_t> body = std::span<uint8_t>(bytes).subspan(kMadHeaderSize);
    bytes[0] = kBaseVersion;
    bytes[1] = kCmClass;
    bytes[2] = kCmClassVersion;
    bytes[3] = valid_method(kind, rng());
    bytes[16] = 0;
    bytes[17] = static_cast<uint8_t>(Schema<M>::attr);
    for (const auto& r : kLengthRules<M>) {
      const auto& f = Schema<M>::fields[r.field];
      write_bits(body, f.first_bit(), f.width, rng() % (r.max + 1));
    }

    auto mad = decode(bytes);
    ASSERT_TRUE(mad.has_value()) << to_string(mad.error().error);
    ASSERT_TRUE(std::holds_alternative<M>(mad->message));
    const MadBytes mask = field_mask(mad->message);
    MadBytes want;
    for (size_t i = 0; i < kMadSize; ++i) want[i] = bytes[i] & mask[i];
    const MadBytes got = encode(*mad);
    EXPECT_EQ(byte_diff(got, want), "");
  });
}

// Reserved bits set to one (all of them, or a random subset) change nothing on decode, and
// encode writes them as zero.
TYPED_TEST(MessageProperty, ReservedBitsAreIgnoredAndWrittenAsZero) {
  for_each_seed(this->salt() + 200, [](std::mt19937_64& rng) {
    const Mad mad = TestFixture::random_mad(rng, /*clamp=*/true);
    const MadBytes clean = encode(mad);
    const MadBytes mask = field_mask(mad.message);
    MadBytes all_ones = clean, some = clean;
    for (size_t i = 0; i < kMadSize; ++i) {
      all_ones[i] |= static_cast<uint8_t>(~mask[i]);
      some[i] |= static_cast<uint8_t>(~mask[i] & rng());
    }
    expect_decodes_to(all_ones, mad, clean);
    expect_decodes_to(some, mad, clean);
  });
}

// A number wider than its field (the struct member is wider than the wire field) is truncated to
// the field and never spills into its neighbours: the MAD equals the one with every value
// truncated first.
TYPED_TEST(MessageProperty, OverwideValuesAreTruncatedToTheirField) {
  using M = TypeParam;
  for_each_seed(this->salt() + 300, [](std::mt19937_64& rng) {
    M wide{}, narrow{};
    for (const auto& f : Schema<M>::fields) {
      if (!f.is_number()) continue;
      f.set(wide, rng());  // the member keeps what its type holds
      f.set(narrow, f.get(wide) & width_mask(f.width));
    }
    const MadBytes a = encode(make_mad(wide, 1)), b = encode(make_mad(narrow, 1));
    EXPECT_EQ(byte_diff(a, b), "");
    expect_fields_at_their_bits(wide, std::span<const uint8_t>(a).subspan(kMadHeaderSize));
  });
}

// make_mad gives a MAD that decode() accepts, with the same header encode_send writes straight
// from the message (the engine's send path).
TYPED_TEST(MessageProperty, MakeMadDecodesAndEqualsEncodeSend) {
  using M = TypeParam;
  for_each_seed(this->salt() + 400, [](std::mt19937_64& rng) {
    M m{};
    fill_fields(m, rng);
    clamp_lengths(m);
    const uint64_t tid = rng();
    const MadBytes bytes = encode(make_mad(m, tid));
    MadBytes sent;
    encode_send(m, tid, sent);
    EXPECT_EQ(byte_diff(sent, bytes), "");
    auto back = decode(bytes);
    ASSERT_TRUE(back.has_value()) << to_string(back.error().error);
    EXPECT_EQ(std::get<M>(back->message), m);
    EXPECT_EQ(back->header.transaction_id, tid);
  });
}

// The field tables themselves: sorted by position, every field named, and the schema's bit
// count plus the reserved bits fill the region exactly.
TYPED_TEST(MessageProperty, FieldTableCoversTheRegionWithoutOverlap) {
  using M = TypeParam;
  const MadBytes mask = field_mask(M{});
  size_t covered = 0, width_sum = 0;
  for (size_t i = kMadHeaderSize; i < kMadSize; ++i)
    covered += static_cast<size_t>(__builtin_popcount(mask[i]));
  uint32_t last_end = 0;
  for (const auto& f : Schema<M>::fields) {
    width_sum += f.width;
    EXPECT_FALSE(f.name.empty());
    EXPECT_GE(f.first_bit(), last_end) << f.name << " is out of order or overlaps";
    last_end = f.end_bit();
  }
  EXPECT_EQ(covered, width_sum);
  EXPECT_LE(last_end, kCmDataSize * 8);
}

// --- the MAD header ---

// Every header field, valid or not, survives encode -> decode_header at its place; the reserved
// bytes 18-19 are written as zero and ignored on read; AttributeID comes from the message.
TEST(MadHeaderProperty, HeaderFieldsRoundTripThroughDecodeHeader) {
  for_each_seed(1, [](std::mt19937_64& rng) {
    Mad mad{MadHeader{}, message_of_index(rng() % std::variant_size_v<Message>)};
    fill_fields(mad.header, rng);
    fill_fields(mad.message, rng);
    MadBytes bytes = encode(mad);
    MadHeader want = mad.header;
    want.attribute_id = static_cast<uint16_t>(attr_of(mad.message));
    expect_fields_at_their_bits(want, bytes);
    EXPECT_EQ(bytes[18], 0);
    EXPECT_EQ(bytes[19], 0);

    bytes[18] = static_cast<uint8_t>(rng());
    bytes[19] = static_cast<uint8_t>(rng());
    MadHeader got;
    ASSERT_TRUE(decode_header(bytes, got));
    EXPECT_EQ(got, want);
  });
}

// decode() of random bytes of random length fails exactly when, and with the error that, the
// checks in their documented order give; when it fails the header is reported as read.
TEST(MadHeaderProperty, DecodeRejectsExactlyWhatTheRulesReject) {
  auto coin = [](std::mt19937_64& rng) { return rng() % 4 != 0; };  // mostly valid values
  // How often each error (and, last, success) was expected: every one must have come up, or the
  // property did not test that rule.
  constexpr size_t kAccepted = static_cast<size_t>(DecodeError::LengthField) + 1;
  std::array<int, kAccepted + 1> seen{};
  for_each_seed(2, [&](std::mt19937_64& rng) {
    const size_t size = coin(rng) ? kMadSize : rng() % (kMadSize + 48);
    std::vector<uint8_t> bytes(size);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    const Message kind = message_of_index(rng() % std::variant_size_v<Message>);
    const uint16_t attr =
        coin(rng) ? static_cast<uint16_t>(attr_of(kind)) : static_cast<uint16_t>(rng());
    // Each of these is valid with probability 3/4, else left random.
    const bool base_ok = coin(rng), class_ok = coin(rng), version_ok = coin(rng),
               method_ok = coin(rng);
    const uint8_t method = valid_method(kind, rng());
    auto put = [&](size_t at, uint8_t v, bool valid) {
      if (at < size && valid) bytes[at] = v;
    };
    put(0, kBaseVersion, base_ok);
    put(1, kCmClass, class_ok);
    put(2, kCmClassVersion, version_ok);
    put(3, method, method_ok);
    put(16, static_cast<uint8_t>(attr >> 8), true);
    put(17, static_cast<uint8_t>(attr), true);
    if (size >= kMadSize && attr == static_cast<uint16_t>(attr_of(kind))) {
      std::span<uint8_t> region(bytes.data() + kMadHeaderSize, kCmDataSize);
      std::visit(
          [&](const auto& m) {
            using M = std::decay_t<decltype(m)>;
            for (const auto& r : kLengthRules<M>) {
              const auto& f = Schema<M>::fields[r.field];
              // In range half the time (not 3/4: out of range must come up often enough).
              if (rng() % 2) write_bits(region, f.first_bit(), f.width, rng() % (r.max + 1));
            }
          },
          kind);
    }

    // The rules, in decode()'s order, from the raw bytes.
    auto expected = [&]() -> std::optional<DecodeError> {
      if (size < kMadSize) return DecodeError::ShortBuffer;
      if (size > kMadSize) return DecodeError::LongBuffer;
      if (bytes[0] != kBaseVersion) return DecodeError::BaseVersion;
      if (bytes[1] != kCmClass) return DecodeError::MgmtClass;
      if (bytes[2] != kCmClassVersion) return DecodeError::ClassVersion;
      if (attr_name(attr).empty()) return DecodeError::UnknownAttribute;
      const bool cpi = attr == static_cast<uint16_t>(AttrId::ClassPortInfo);
      const uint8_t method = bytes[3];
      if (cpi ? (method != 0x01 && method != 0x02 && method != 0x81) : method != 0x03)
        return DecodeError::Method;
      // Which fields are length fields is the schema's (checked against the spec by
      // decode_error_test); their values are read here with the test's own bit reader.
      std::span<const uint8_t> cm(bytes.data() + kMadHeaderSize, kCmDataSize);
      bool lengths_ok = true;
      for (size_t i = 0; i < std::variant_size_v<Message>; ++i) {
        const Message named = message_of_index(i);
        if (static_cast<uint16_t>(attr_of(named)) != attr) continue;
        std::visit(
            [&](const auto& m) {
              using M = std::decay_t<decltype(m)>;
              for (const auto& r : kLengthRules<M>) {
                const auto& f = Schema<M>::fields[r.field];
                lengths_ok = lengths_ok && read_bits(cm, f.first_bit(), f.width) <= r.max;
              }
            },
            named);
      }
      if (!lengths_ok) return DecodeError::LengthField;
      return std::nullopt;
    }();
    ++seen[expected ? static_cast<size_t>(*expected) : kAccepted];

    auto got = decode(bytes);
    if (!expected) {
      ASSERT_TRUE(got.has_value()) << to_string(got.error().error);
      EXPECT_EQ(static_cast<uint16_t>(attr_of(got->message)), attr);
      return;
    }
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().error, *expected)
        << to_string(got.error().error) << " vs " << to_string(*expected);
    if (size >= kMadHeaderSize) {
      MadHeader h;
      ASSERT_TRUE(decode_header(bytes, h));
      EXPECT_EQ(got.error().header, h);
    }
  });
  if (::testing::Test::HasFailure()) return;
  for (size_t k = 0; k < kAccepted; ++k)
    EXPECT_GT(seen[k], 0) << "no input was expected to fail with "
                          << to_string(static_cast<DecodeError>(k));
  EXPECT_GT(seen[kAccepted], 0) << "no input was expected to decode";
}

}  // namespace
