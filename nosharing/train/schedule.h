// Learning-rate schedules: linear warm-up, then cosine decay to zero, step decay, or constant.
#pragma once

#include <cstdint>
#include <string>

namespace nosharing {

struct ScheduleOptions {
  std::string kind = "cosine";  // cosine | step | constant
  double peak_lr = 0.05;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  int64_t steps_per_epoch = 1;  // step schedule counts epochs
  int64_t step_epochs = 30;
  double step_gamma = 0.1;
  // "steps": the cosine runs over total_steps. "time": it runs over the wall-clock budget
  // (train.max_minutes) as well, whichever is further along, so a run cut by time still
  // ends annealed — what "N minutes of training" means on any machine.
  std::string clock = "steps";  // steps | time
};

// Learning rate for optimiser step `step` (0-based: the rate used to take step + 1).
//   warm-up:  peak · (step + 1) / warmup_steps              for step < warmup_steps
//   cosine:   peak · ½(1 + cos(π · t)),  t = (step − warmup) / (total − warmup)
//             with clock = "time": t = max(that, time_fraction)
//   step:     peak · gamma^⌊epoch / step_epochs⌋
// time_fraction: the share of the wall-clock budget used so far (0 without one).
double learning_rate_at(int64_t step, const ScheduleOptions& options, double time_fraction = 0);

}  // namespace nosharing
