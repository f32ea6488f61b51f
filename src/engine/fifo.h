// A FIFO on a power-of-two ring that keeps its storage: after warm-up, push and pop allocate
// nothing (the engine's output queues are on the per-message path).
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace ibcm::engine {

template <class T>
class Fifo {
 public:
  size_t size() const { return tail_ - head_; }
  bool empty() const { return head_ == tail_; }

  void push(T v) {
    if (size() == buf_.size()) grow();
    buf_[tail_++ & (buf_.size() - 1)] = std::move(v);
  }
  // Appends a slot and returns it for the caller to fill in place (it holds an old value).
  T& push_slot() {
    if (size() == buf_.size()) grow();
    return buf_[tail_++ & (buf_.size() - 1)];
  }
  T* front() { return empty() ? nullptr : &buf_[head_ & (buf_.size() - 1)]; }
  std::optional<T> pop() {
    if (empty()) return std::nullopt;
    return std::move(buf_[head_++ & (buf_.size() - 1)]);
  }
  // The oldest entries that lie contiguously in the ring (more may follow after a wrap), to be
  // read in place and then dropped with drop_front(n). Valid until the next push.
  std::span<const T> front_span() const {
    if (empty()) return {};
    size_t at = head_ & (buf_.size() - 1);
    return {buf_.data() + at, std::min(size(), buf_.size() - at)};
  }
  void drop_front(size_t n) { head_ += std::min(n, size()); }

 private:
  void grow() {
    std::vector<T> next(buf_.empty() ? 16 : buf_.size() * 2);
    for (size_t i = 0, n = size(); i < n; ++i)
      next[i] = std::move(buf_[(head_ + i) & (buf_.size() - 1)]);
    tail_ = size();
    head_ = 0;
    buf_ = std::move(next);
  }
  std::vector<T> buf_;
  size_t head_ = 0;
  size_t tail_ = 0;
};

}  // namespace ibcm::engine
