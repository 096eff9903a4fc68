// The train.* keys the training loop reads, typed and checked once (train/trainer.h).
#pragma once

#include <cstdint>

#include "nosharing/core/config.h"
#include "nosharing/train/schedule.h"

namespace nosharing {

struct TrainLoopOptions {
  int64_t epochs = 1;
  int64_t max_steps = 0;            // 0: no limit
  double max_minutes = 0;           // wall-clock budget; 0: none
  int64_t eval_every = 0;           // steps between mid-epoch evaluations; 0: epoch ends only
  int64_t log_every = 1;            // steps per "train" line
  double label_smoothing = 0;       // in [0, 1)
  int64_t checkpoint_every = 0;     // steps between mid-epoch checkpoints; 0: epoch ends only
  double checkpoint_minutes = 0;    // minutes between mid-epoch checkpoints; 0: off
  int threads = 0;                  // train.threads (0: every core)
  uint64_t seed = 0;
  double lr = 0.05;                 // train.lr, named in the non-finite loss error
  // train.schedule, lr, warmup_steps, step_epochs, step_gamma and schedule_clock; its
  // total_steps and steps_per_epoch are the data's (Trainer).
  ScheduleOptions schedule;

  // A value out of range is a UsageError naming the key, the value and what was expected.
  static TrainLoopOptions from_config(const Config& config);

  // The fraction of the time budget used at `clock` seconds (0 without a budget).
  double budget_fraction(double clock) const {
    return max_minutes > 0 ? clock / (max_minutes * 60) : 0.0;
  }
  bool out_of_time(double clock) const { return max_minutes > 0 && clock >= max_minutes * 60; }
};

}  // namespace nosharing
