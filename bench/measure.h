// Timing and memory measurement shared by the benchmark cases' --one mode (one measurement per
// process, for bench/side_by_side.sh).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace nosharing::bench {

// A /proc/self/status field in kB ("VmRSS:", "VmHWM:"), or -1.
inline long status_kb(const char* key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const size_t length = std::strlen(key);
  while (std::getline(status, line)) {
    if (line.compare(0, length, key) == 0) return std::stol(line.substr(length));
  }
  return -1;
}

// Resets the kernel's peak-RSS mark (VmHWM) to the current RSS, so the peak measured later
// belongs to the layer alone.
inline bool reset_peak_rss() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
  clear_refs.flush();
  return clear_refs.good();
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Measurement {
  double ms = 0;        // median per call
  double extra_mb = 0;  // peak RSS during the calls minus RSS before them; -1 if unknown
};

// Times `body` (after `warmup` calls) until `seconds` have passed, at least 3 and at most 50
// times; returns the median in ms. Memory is measured around all of it.
inline Measurement measure(const std::function<void()>& body, int warmup, double seconds) {
  const long before_kb = status_kb("VmRSS:");
  const bool peak_reset = reset_peak_rss();
  for (int i = 0; i < warmup; ++i) body();
  std::vector<double> times;
  const auto start = std::chrono::steady_clock::now();
  while (times.size() < 3 ||
         (times.size() < 50 &&
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() <
              seconds)) {
    const auto t0 = std::chrono::steady_clock::now();
    body();
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  Measurement m;
  m.ms = median(times);
  m.extra_mb = peak_reset ? (status_kb("VmHWM:") - before_kb) / 1024.0 : -1;
  return m;
}

}  // namespace nosharing::bench
