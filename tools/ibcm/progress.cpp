#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
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

namespace {

// The terminal's width (80 if it cannot say): a line longer than that would wrap, and "\r" would
// then rewrite only its last row.
size_t terminal_columns() {
  winsize w{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 0) return w.ws_col;
  return 80;
}

// Straight to the file descriptor, not through stdio: the benchmark forks while this thread
// draws, and a child must not inherit a stdio lock held here.
void write_all(const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(STDERR_FILENO, s.data() + off, s.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

PhaseProgress::PhaseProgress(std::string what, std::vector<Phase> phases, bool wanted)
    : what_(std::move(what)),
      phases_(std::move(phases)),
      shown_(wanted && !phases_.empty() && isatty(STDERR_FILENO)) {
  if (!shown_) return;
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      if (started_) draw();
      wake_.wait_for(lock, std::chrono::milliseconds(200));
    }
  });
}

PhaseProgress::~PhaseProgress() {
  finish();
}

void PhaseProgress::start(size_t i) {
  if (!shown_) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (started_ && !phases_[current_].fixed) {
    done_s_ += std::chrono::duration<double>(now - phase_start_).count();
    done_expected_s_ += phases_[current_].expected_s;
  }
  current_ = i;
  started_ = true;
  phase_start_ = now;
  draw();
}

void PhaseProgress::print(const std::string& line) {
  if (!shown_) {
    std::fputs(line.c_str(), stderr);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  write_all((drawn_ ? "\r\033[K" : "") + line);
  drawn_ = false;
  if (started_) draw();
}

void PhaseProgress::print_out(const std::string& text) {
  if (!shown_) {
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (drawn_) write_all("\r\033[K");
  drawn_ = false;
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
  if (started_) draw();
}

void PhaseProgress::finish() {
  if (!shown_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    if (drawn_) write_all("\r\033[K");
    drawn_ = false;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PhaseProgress::draw() {
  // The phases done so far say how this machine compares with the expected lengths.
  double speed = done_expected_s_ > 0 ? done_s_ / done_expected_s_ : 1.0;
  auto scaled = [&](const Phase& p) { return p.fixed ? p.expected_s : p.expected_s * speed; };
  double in_phase =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - phase_start_).count();
  double left = std::max(0.0, scaled(phases_[current_]) - in_phase);
  std::string rest;
  for (size_t i = current_ + 1; i < phases_.size(); ++i) {
    left += scaled(phases_[i]);
    rest += (rest.empty() ? "" : ", ") + phases_[i].name;
  }
  char tail[64];
  if (left < 1)
    std::snprintf(tail, sizeof tail, "), under a second left");
  else
    std::snprintf(tail, sizeof tail, "), about %.0f s left", std::round(left));
  std::string line = what_ + ": " + phases_[current_].name + " (" + std::to_string(current_ + 1) +
                     " of " + std::to_string(phases_.size()) +
                     (rest.empty() ? "" : "; " + rest + " left") + tail;
  size_t columns = terminal_columns();
  if (line.size() >= columns) line.resize(columns - 1);
  write_all("\r\033[K" + line);
  drawn_ = true;
}

}  // namespace ibcm::cli
