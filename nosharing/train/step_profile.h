// Where a training step's time goes (issue 22, `nosharing train --profile`): wall seconds
// added per phase — data, forward, topography, backward, allreduce, optimizer, sleep,
// evaluation, checkpoint — and read out per step over a logging interval, the rest of the
// interval's wall time as "other".
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace nosharing {

class StepProfile {
 public:
  using Clock = std::chrono::steady_clock;

  // Adds the seconds since `since` to `phase`; returns now (the start of the next phase).
  Clock::time_point add(const std::string& phase, Clock::time_point since);
  void add_seconds(const std::string& phase, double seconds);

  // {"kind": "profile", "step", "steps", "seconds_per_step": {phase: s, …, "other": s},
  // "total_seconds_per_step"} for `steps` steps over `interval_seconds` of wall time; phases
  // that took no time are left out.
  nlohmann::json line(int64_t step, int64_t steps, double interval_seconds) const;
  // The phases' seconds so far (for tests).
  const std::map<std::string, double>& seconds() const { return seconds_; }
  void clear() { seconds_.clear(); }

 private:
  std::map<std::string, double> seconds_;
};

}  // namespace nosharing
