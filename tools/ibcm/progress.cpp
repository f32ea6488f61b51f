#include "progress.h"

#include <unistd.h>

#include <cstdio>

namespace ibcm::cli {

Progress::Progress(std::string what, uint64_t total, bool wanted)
    : what_(std::move(what)),
      total_(total),
      shown_(wanted && total > 1 && isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

Progress::~Progress() {
  clear();
}

void Progress::update(uint64_t done) {
  if (!shown_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(200)) return;
  last_ = now;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double left =
      done > 0 ? elapsed * static_cast<double>(total_ - done) / static_cast<double>(done) : 0;
  std::fprintf(stderr, "\r\033[K%s: %llu of %llu done (%.0f%%), about %.0f s left", what_.c_str(),
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_),
               100.0 * static_cast<double>(done) / static_cast<double>(total_), left);
  drawn_ = true;
}

void Progress::clear() {
  if (!drawn_) return;
  std::fputs("\r\033[K", stderr);
  drawn_ = false;
}

}  // namespace ibcm::cli
