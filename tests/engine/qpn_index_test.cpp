// QpnIndex against std::unordered_map under random insert / find / erase sequences, over QPNs
// clustered as a channel adapter hands them out and spread over all 24 bits; and its edges:
// QPNs past 24 bits, duplicate inserts, erasing under the wrong index, leaves emptied and reused.
#include "engine/qpn_index.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>

using ibcm::engine::QpnIndex;

namespace {

void random_ops(uint32_t (*qpn_of)(std::mt19937&), uint32_t seed) {
  std::mt19937 rng(seed);
  QpnIndex index;
  std::unordered_map<uint32_t, uint32_t> ref;
  for (int op = 0; op < 200000; ++op) {
    const uint32_t qpn = qpn_of(rng);
    const uint32_t value = rng() % 1000000;
    switch (rng() % 3) {
      case 0: {
        bool fresh = ref.find(qpn) == ref.end();
        ASSERT_EQ(index.insert(qpn, value), fresh) << qpn;
        if (fresh) ref[qpn] = value;
        break;
      }
      case 1: {
        auto it = ref.find(qpn);
        // Erasing under another index changes nothing.
        if (it != ref.end()) {
          ASSERT_FALSE(index.erase(qpn, it->second + 1));
        }
        ASSERT_EQ(index.erase(qpn, it == ref.end() ? value : it->second), it != ref.end());
        if (it != ref.end()) ref.erase(it);
        break;
      }
      default: {
        auto it = ref.find(qpn);
        ASSERT_EQ(index.find(qpn), it == ref.end() ? QpnIndex::kNone : it->second) << qpn;
      }
    }
    ASSERT_EQ(index.size(), ref.size());
  }
  for (auto [qpn, value] : ref) ASSERT_TRUE(index.erase(qpn, value));
  EXPECT_EQ(index.size(), 0u);
}

}  // namespace

TEST(QpnIndex, MatchesAMapOnClusteredQpns) {
  // A few thousand QPNs around a leaf boundary (1024) and around 2^23, as two adapters count.
  random_ops(
      [](std::mt19937& r) {
        uint32_t base = r() % 2 ? 0u : 0x800000u;
        return static_cast<uint32_t>(base + 1 + r() % 3000);
      },
      1);
}

TEST(QpnIndex, MatchesAMapOnQpnsOverAll24Bits) {
  random_ops([](std::mt19937& r) { return static_cast<uint32_t>(r() % 4096 << 12 | r() % 4); }, 2);
}

TEST(QpnIndex, RefusesWhatIsNotA24BitQpnOrAnIndex) {
  QpnIndex index;
  EXPECT_FALSE(index.insert(0x1000000, 1));
  EXPECT_FALSE(index.insert(0xFFFFFFFF, 1));
  EXPECT_FALSE(index.insert(5, QpnIndex::kNone));
  EXPECT_EQ(index.find(0x1000000), QpnIndex::kNone);
  EXPECT_FALSE(index.erase(0x1000000, 1));
  EXPECT_TRUE(index.insert(QpnIndex::kMaxQpn, 7));
  EXPECT_EQ(index.find(QpnIndex::kMaxQpn), 7u);
  EXPECT_FALSE(index.insert(QpnIndex::kMaxQpn, 8)) << "a QPN has one connection";
  EXPECT_EQ(index.find(QpnIndex::kMaxQpn), 7u);
  EXPECT_EQ(index.size(), 1u);
}

TEST(QpnIndex, ALeafEmptiedAndReusedHoldsNothingOfItsPast) {
  QpnIndex index;
  // Fill a leaf, empty it (it becomes a spare), then fill another leaf from the spare: none of
  // the old entries may show through.
  for (uint32_t q = 1024; q < 2048; ++q) ASSERT_TRUE(index.insert(q, q));
  for (uint32_t q = 1024; q < 2048; ++q) ASSERT_TRUE(index.erase(q, q));
  for (uint32_t q = 1024; q < 2048; ++q) ASSERT_EQ(index.find(q), QpnIndex::kNone);
  ASSERT_TRUE(index.insert(5000, 1));
  for (uint32_t q = 4096; q < 5120; ++q)
    ASSERT_EQ(index.find(q), q == 5000 ? 1u : QpnIndex::kNone) << q;
  EXPECT_EQ(index.size(), 1u);
}
