#include "nosharing/train/progress_line.h"

#include <unistd.h>

namespace nosharing {

ProgressLine::ProgressLine(bool enabled, std::FILE* stream, double terminal_interval,
                           double plain_interval)
    : enabled_(enabled && stream != nullptr),
      stream_(stream),
      terminal_(enabled_ && ::isatty(::fileno(stream)) == 1),
      interval_(terminal_ ? terminal_interval : plain_interval),
      last_(Clock::now()) {}

void ProgressLine::update(const std::string& text) {
  if (!enabled_) return;
  const Clock::time_point now = Clock::now();
  if (std::chrono::duration<double>(now - last_).count() < interval_) return;
  last_ = now;
  if (terminal_) {
    std::fprintf(stream_, "\r%s\033[K", text.c_str());
    shown_ = true;
  } else {
    std::fprintf(stream_, "%s\n", text.c_str());
  }
  std::fflush(stream_);
}

void ProgressLine::clear() {
  if (!shown_) return;
  std::fprintf(stream_, "\r\033[K");
  std::fflush(stream_);
  shown_ = false;
}

}  // namespace nosharing
