// metrics.jsonl: one JSON object per line with a "kind" (DESIGN §8):
//   "train": step, epoch, loss, task_loss, <aux losses>, lr, images_per_second, seconds
//   "eval":  step, epoch, split, loss, accuracy, n, seconds
//   "sleep": step, layer, snr_before, snr_after (weight SNR, squared variant), and
//            snr_abs_before, snr_abs_after (the |mean|/std variant): one line per unshared
//            layer after each sleep phase of dynamic weight sharing
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace nosharing {

class MetricsLog {
 public:
  explicit MetricsLog(std::string path) : path_(std::move(path)) {}
  // Appends one line and flushes it.
  void write(const nlohmann::json& line) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Every line of a metrics.jsonl (lines that are not JSON objects are skipped: a crash may
// leave a torn last line).
std::vector<nlohmann::json> read_metrics(const std::string& path);

// On resume from the checkpoint of step `step`: drops the lines a killed run wrote after it
// (their "step" > `step`; a torn last line too), rewriting the file atomically, so the resumed
// run's lines follow without duplicates. Nothing to do when the file does not exist.
void truncate_metrics_after(const std::string& path, int64_t step);

}  // namespace nosharing
