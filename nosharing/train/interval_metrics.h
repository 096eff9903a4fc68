// The "train" lines of metrics.jsonl (DESIGN §8): what the steps since the last line add up
// to — mean total and task loss, each named term, images per second, page faults per step,
// and in data-parallel runs the time blocked on the gradient allreduce.
#pragma once

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace nosharing {

class ProcessGroup;
struct TopographicTermValue;

class IntervalMetrics {
 public:
  using Clock = std::chrono::steady_clock;

  IntervalMetrics() { restart(); }

  // One optimiser step: its total and task loss, the model's own terms (each averaged over
  // every step of the interval), the topographic terms it computed ("topo/<layer>", each
  // averaged over the steps that computed it: topography.every skips steps) and the images
  // this rank trained on.
  void add_step(double loss, double task_loss,
                const std::vector<std::pair<std::string, torch::Tensor>>& terms,
                const std::vector<TopographicTermValue>& topographic_terms, int64_t images);
  void add_allreduce_seconds(double seconds) { allreduce_seconds_ += seconds; }

  int64_t steps() const { return steps_; }
  // Wall seconds since the interval began.
  double seconds() const;

  // Over the ranks: losses and terms averaged (each rank's is the mean over its share of
  // the batch), images summed. Nothing to do in one process.
  void combine(ProcessGroup& group, int64_t step);

  // {"kind": "train", "step", "epoch", "loss", "task_loss", "lr", "images_per_second",
  // "seconds", "page_faults_per_step" (pages the kernel mapped afresh, this process,
  // including the interval's data loading, evaluations and checkpoints), "rss_mb", each
  // term; with several ranks "allreduce_seconds" per step and "allreduce_share" of the wall
  // time}, over `interval_seconds`.
  nlohmann::json line(int64_t step, int64_t epoch, double lr, double run_seconds,
                      double interval_seconds) const;

  // A new interval from now.
  void restart();

 private:
  double loss_ = 0;
  double task_loss_ = 0;
  std::map<std::string, double> terms_;
  std::map<std::string, int64_t> term_steps_;  // steps that computed a "topo/" term
  int64_t steps_ = 0;
  int64_t images_ = 0;
  double allreduce_seconds_ = 0;
  int world_size_ = 1;
  Clock::time_point start_;
  int64_t page_faults_start_ = 0;
};

}  // namespace nosharing
