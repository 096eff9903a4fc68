#include "nosharing/train/step_profile.h"

#include <algorithm>

namespace nosharing {

StepProfile::Clock::time_point StepProfile::add(const std::string& phase, Clock::time_point since) {
  const Clock::time_point now = Clock::now();
  seconds_[phase] += std::chrono::duration<double>(now - since).count();
  return now;
}

void StepProfile::add_seconds(const std::string& phase, double seconds) {
  seconds_[phase] += seconds;
}

nlohmann::json StepProfile::line(int64_t step, int64_t steps, double interval_seconds) const {
  const double n = static_cast<double>(std::max<int64_t>(1, steps));
  nlohmann::json per_step = nlohmann::json::object();
  double measured = 0;
  for (const auto& [phase, seconds] : seconds_) {
    if (seconds <= 0) continue;
    per_step[phase] = seconds / n;
    measured += seconds;
  }
  per_step["other"] = std::max(0.0, interval_seconds - measured) / n;
  return {{"kind", "profile"},
          {"step", step},
          {"steps", steps},
          {"seconds_per_step", per_step},
          {"total_seconds_per_step", interval_seconds / n}};
}

}  // namespace nosharing
