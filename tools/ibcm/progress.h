// A progress line for long runs: what is done, of how many, and an estimate of the time left,
// rewritten in place on stderr. Only on a terminal: output that goes to a file or a pipe, or is
// JSON, gets none.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

// A progress line for a run of phases that do not report their own progress (ibcm bench): the
// phase running, which are left, and an estimate of the time left from each phase's expected
// length, scaled by how long the phases done so far took against theirs. A thread of its own
// redraws it every 200 ms while a phase runs. Only on a terminal, as Progress.
class PhaseProgress {
 public:
  struct Phase {
    std::string name;
    double expected_s = 0;  // on the machine docs/performance.md describes
    bool fixed = false;     // its length does not depend on the machine's speed (wall-clock phases)
  };
  PhaseProgress(std::string what, std::vector<Phase> phases, bool wanted);
  ~PhaseProgress();  // finish()
  PhaseProgress(const PhaseProgress&) = delete;
  PhaseProgress& operator=(const PhaseProgress&) = delete;

  // Phase i begins; those before it are done.
  void start(size_t i);
  // Writes `line` to stderr (above the progress line, on a terminal).
  void print(const std::string& line);
  // Writes `text` to stdout, first clearing the progress line (when stdout is the same terminal).
  void print_out(const std::string& text);
  // Clears the line and stops the thread: the run is over.
  void finish();

 private:
  void draw();  // with mu_ held
  std::string what_;
  std::vector<Phase> phases_;
  bool shown_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool drawn_ = false;
  size_t current_ = 0;
  bool started_ = false;
  double done_s_ = 0, done_expected_s_ = 0;  // of the phases done whose length scales
  std::chrono::steady_clock::time_point phase_start_;
  std::thread thread_;
};

}  // namespace ibcm::cli
