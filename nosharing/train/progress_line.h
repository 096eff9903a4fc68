// The live progress of training (issue 22): on a terminal one line rewritten in place, at most
// every `terminal_interval` seconds; elsewhere (a log file, a batch job's output) a plain line
// every `plain_interval` seconds, so a long epoch is not silent.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace nosharing {

class ProgressLine {
 public:
  // `stream` (not owned) is a terminal or not as isatty says; disabled: nothing is written.
  explicit ProgressLine(bool enabled, std::FILE* stream = stderr, double terminal_interval = 0.25,
                        double plain_interval = 30.0);
  ~ProgressLine() { clear(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Shows `text` unless the last one was shown less than the interval ago.
  void update(const std::string& text);
  // Removes the in-place line (before other output); nothing for plain lines.
  void clear();

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  std::FILE* stream_;
  bool terminal_;
  double interval_;
  bool shown_ = false;
  Clock::time_point last_;
};

}  // namespace nosharing
