// Local QPN -> connection record index, as a three-level table indexed by the QPN itself.
//
// A channel adapter hands out QPNs close together (counting up, reusing freed ones), so the QPNs
// of connections made one after another share a leaf and usually a cache line. With a million
// connections a hash index made the two local-QPN checks of a handshake (connect's and accept's)
// cache misses that no prefetch could hide, the QPN coming from the consumer the moment it is
// checked; here they are hits. Leaves (1024 QPNs, a 4 KB page) are made on first use and freed when
// their last entry goes, so memory follows the QPNs in use: 4 MB for a million consecutive QPNs
// (a hash index at half load: 16 MB), 64 MB at most for QPNs spread over all 2^24. The last two
// leaves freed are kept for the next ones needed: QPNs counting up across a leaf boundary empty
// one leaf as they start another, and a steady state allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace ibcm::engine {

class QpnIndex {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr uint32_t kMaxQpn = 0xFFFFFF;

  // The index stored for qpn, or kNone.
  uint32_t find(uint32_t qpn) const {
    const std::unique_ptr<Leaf>* l = leaf_of(qpn);
    return l && *l ? (*l)->slot[qpn & kLeafMask] : kNone;
  }

  // Stores `index` for qpn. Returns false, changing nothing, if qpn has one already or is not a
  // 24-bit QPN.
  bool insert(uint32_t qpn, uint32_t index) {
    if (qpn > kMaxQpn || index == kNone) return false;
    std::unique_ptr<Mid>& mid = top_[qpn >> (kMidBits + kLeafBits)];
    if (!mid) mid = std::make_unique<Mid>();
    std::unique_ptr<Leaf>& leaf = *leaf_of(qpn);
    if (!leaf) leaf = spares_ ? std::move(spare_[--spares_]) : std::make_unique<Leaf>();
    uint32_t& s = leaf->slot[qpn & kLeafMask];
    if (s != kNone) return false;
    s = index;
    ++leaf->used;
    ++size_;
    return true;
  }

  // Removes qpn's entry if it holds `index`; false if it does not.
  bool erase(uint32_t qpn, uint32_t index) {
    if (index == kNone) return false;
    std::unique_ptr<Leaf>* l = leaf_of(qpn);
    if (!l || !*l || (*l)->slot[qpn & kLeafMask] != index) return false;
    std::unique_ptr<Leaf>& leaf = *l;
    leaf->slot[qpn & kLeafMask] = kNone;
    --size_;
    if (--leaf->used == 0) {
      if (spares_ < kSpares)
        spare_[spares_++] = std::move(leaf);  // all kNone again
      else
        leaf.reset();
    }
    return true;
  }

  size_t size() const { return size_; }

 private:
  // 24 bits: 6 pick a Mid (made on first use, kept), 8 a Leaf in it, 10 the slot.
  static constexpr unsigned kLeafBits = 10, kMidBits = 8, kTopBits = 6;
  static_assert(kLeafBits + kMidBits + kTopBits == 24);
  static constexpr uint32_t kLeafMask = (1u << kLeafBits) - 1;
  static constexpr uint32_t kMidMask = (1u << kMidBits) - 1;
  // Empty leaves kept: connections whose QPNs cross a leaf boundary hold two leaves at once.
  static constexpr unsigned kSpares = 2;
  struct Leaf {
    Leaf() {
      for (uint32_t& s : slot) s = kNone;
    }
    uint32_t slot[size_t{1} << kLeafBits];
    uint32_t used = 0;
  };
  struct Mid {
    std::unique_ptr<Leaf> leaf[size_t{1} << kMidBits];
  };
  // qpn's leaf pointer (possibly empty) in its Mid; nullptr if qpn is not a 24-bit QPN or its
  // Mid was never made.
  std::unique_ptr<Leaf>* leaf_of(uint32_t qpn) const {
    if (qpn > kMaxQpn) return nullptr;
    Mid* mid = top_[qpn >> (kMidBits + kLeafBits)].get();
    return mid ? &mid->leaf[(qpn >> kLeafBits) & kMidMask] : nullptr;
  }
  std::unique_ptr<Mid> top_[size_t{1} << kTopBits];
  std::unique_ptr<Leaf> spare_[kSpares];
  unsigned spares_ = 0;
  size_t size_ = 0;
};

}  // namespace ibcm::engine
