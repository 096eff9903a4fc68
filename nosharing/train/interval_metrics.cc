#include "nosharing/train/interval_metrics.h"

#include <cmath>

#include "nosharing/core/process_usage.h"
#include "nosharing/train/process_group.h"
#include "nosharing/train/topographic_objective.h"

namespace nosharing {

void IntervalMetrics::add_step(double loss, double task_loss,
                               const std::vector<std::pair<std::string, torch::Tensor>>& terms,
                               const std::vector<TopographicTermValue>& topographic_terms,
                               int64_t images) {
  loss_ += loss;
  task_loss_ += task_loss;
  for (const auto& [name, term] : terms) terms_[name] += term.item<double>();
  for (const TopographicTermValue& term : topographic_terms) {
    terms_["topo/" + term.layer] += term.value.item<double>();
    ++term_steps_["topo/" + term.layer];
  }
  ++steps_;
  images_ += images;
}

double IntervalMetrics::seconds() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

void IntervalMetrics::combine(ProcessGroup& group, int64_t step) {
  world_size_ = group.world_size();
  if (world_size_ <= 1) return;
  std::vector<double> sums = {loss_, task_loss_, static_cast<double>(images_)};
  for (const auto& [name, sum] : terms_) sums.push_back(sum);
  sums = group.sum(sums, fmt::format("averaging the train metrics of step {}", step));
  loss_ = sums[0] / world_size_;
  task_loss_ = sums[1] / world_size_;
  images_ = std::llround(sums[2]);
  size_t k = 3;
  for (auto& [name, sum] : terms_) sum = sums[k++] / world_size_;
}

nlohmann::json IntervalMetrics::line(int64_t step, int64_t epoch, double lr, double run_seconds,
                                     double interval_seconds) const {
  nlohmann::json line = {{"kind", "train"},
                         {"step", step},
                         {"epoch", epoch},
                         {"loss", loss_ / steps_},
                         {"task_loss", task_loss_ / steps_},
                         {"lr", lr},
                         {"images_per_second",
                          interval_seconds > 0 ? images_ / interval_seconds : 0.0},
                         {"seconds", run_seconds}};
  line["page_faults_per_step"] = static_cast<double>(minor_page_faults() - page_faults_start_) /
                                 static_cast<double>(steps_);
  line["rss_mb"] = resident_megabytes();
  for (const auto& [name, sum] : terms_) {
    const auto counted = term_steps_.find(name);
    line[name] = sum / (counted != term_steps_.end() ? counted->second : steps_);
  }
  if (world_size_ > 1) {
    // Rank 0's time blocked on the gradient allreduce: per step, and as a share of the
    // interval's wall time (communication hidden behind backward is not counted).
    line["allreduce_seconds"] = allreduce_seconds_ / steps_;
    line["allreduce_share"] = interval_seconds > 0 ? allreduce_seconds_ / interval_seconds : 0.0;
  }
  return line;
}

void IntervalMetrics::restart() {
  loss_ = 0;
  task_loss_ = 0;
  terms_.clear();
  term_steps_.clear();
  steps_ = 0;
  images_ = 0;
  allreduce_seconds_ = 0;
  start_ = Clock::now();
  page_faults_start_ = minor_page_faults();
}

}  // namespace nosharing
