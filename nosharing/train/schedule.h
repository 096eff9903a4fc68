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
};

// Learning rate for optimiser step `step` (0-based: the rate used to take step + 1).
//   warm-up:  peak · (step + 1) / warmup_steps              for step < warmup_steps
//   cosine:   peak · ½(1 + cos(π · t)),  t = (step − warmup) / (total − warmup)
//   step:     peak · gamma^⌊epoch / step_epochs⌋
double learning_rate_at(int64_t step, const ScheduleOptions& options);

}  // namespace nosharing
