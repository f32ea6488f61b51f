// A progress line for long runs: what is done, of how many, and an estimate of the time left,
// rewritten in place on stderr. Only on a terminal: output that goes to a file or a pipe, or is
// JSON, gets none.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ibcm::cli {

class Progress {
 public:
  // what: "seeds"; total: how many there are. wanted: the command's own say (false for --json).
  Progress(std::string what, uint64_t total, bool wanted);
  ~Progress();  // clears the line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // `done` of them are done. Redraws at most every 200 ms.
  void update(uint64_t done);
  // Clears the line, so that other output can go to the terminal.
  void clear();

 private:
  std::string what_;
  uint64_t total_;
  bool shown_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace ibcm::cli
