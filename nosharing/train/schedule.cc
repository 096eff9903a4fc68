#include "nosharing/train/schedule.h"

#include <algorithm>
#include <cmath>

namespace nosharing {

double learning_rate_at(int64_t step, const ScheduleOptions& options, double time_fraction) {
  if (step < options.warmup_steps) {
    return options.peak_lr * static_cast<double>(step + 1) / static_cast<double>(options.warmup_steps);
  }
  if (options.kind == "cosine") {
    const int64_t span = std::max<int64_t>(1, options.total_steps - options.warmup_steps);
    double t = static_cast<double>(step - options.warmup_steps) / span;
    if (options.clock == "time") t = std::max(t, time_fraction);
    t = std::min(1.0, t);
    return options.peak_lr * 0.5 * (1.0 + std::cos(M_PI * t));
  }
  if (options.kind == "step") {
    const int64_t epoch = step / std::max<int64_t>(1, options.steps_per_epoch);
    return options.peak_lr *
           std::pow(options.step_gamma, static_cast<double>(epoch / std::max<int64_t>(1, options.step_epochs)));
  }
  return options.peak_lr;
}

}  // namespace nosharing
