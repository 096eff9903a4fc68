#include "nosharing/train/train_loop_options.h"

#include <algorithm>

#include "nosharing/core/error.h"

namespace nosharing {

TrainLoopOptions TrainLoopOptions::from_config(const Config& config) {
  TrainLoopOptions o;
  o.epochs = config.get_int("train.epochs");
  o.max_steps = config.get_int("train.max_steps");
  o.max_minutes = config.get_double("train.max_minutes");
  o.eval_every = config.get_int("train.eval_every");
  o.log_every = std::max<int64_t>(1, config.get_int("train.log_every"));
  o.label_smoothing = config.get_double("train.label_smoothing");
  o.checkpoint_every = config.get_int("train.checkpoint_every");
  o.checkpoint_minutes = config.get_double("train.checkpoint_minutes");
  o.threads = static_cast<int>(config.get_int("train.threads"));
  o.seed = static_cast<uint64_t>(config.get_int("train.seed"));
  o.lr = config.get_double("train.lr");
  if (o.checkpoint_every < 0) {
    throw_usage("train.checkpoint_every = {}: expected ≥ 0 (0: at epoch ends only)",
                o.checkpoint_every);
  }
  if (!(o.checkpoint_minutes >= 0)) {
    throw_usage("train.checkpoint_minutes = {}: expected ≥ 0 (0: off)", o.checkpoint_minutes);
  }
  if (o.epochs < 1) throw_usage("train.epochs = {}: expected ≥ 1", o.epochs);
  if (o.max_steps < 0) {
    throw_usage("train.max_steps = {}: expected ≥ 0 (0: no limit)", o.max_steps);
  }
  if (o.eval_every < 0) throw_usage("train.eval_every = {}: expected ≥ 0", o.eval_every);
  if (o.label_smoothing < 0 || o.label_smoothing >= 1) {
    throw_usage("train.label_smoothing = {}: expected a number in [0, 1)", o.label_smoothing);
  }

  ScheduleOptions& s = o.schedule;
  s.kind = config.get_string("train.schedule");
  s.peak_lr = o.lr;
  s.warmup_steps = std::max<int64_t>(0, config.get_int("train.warmup_steps"));
  s.step_epochs = config.get_int("train.step_epochs");
  s.step_gamma = config.get_double("train.step_gamma");
  s.clock = config.get_string("train.schedule_clock");
  if (s.clock == "time" && !(o.max_minutes > 0)) {
    throw_usage("train.schedule_clock = \"time\" needs a wall-clock budget: train.max_minutes = "
                "{}, expected > 0", o.max_minutes);
  }
  if (s.clock == "time" && s.kind == "step") {
    throw_usage("train.schedule_clock = \"time\" runs the cosine (or constant) schedule over "
                "the time budget; train.schedule = \"step\" counts epochs: use "
                "train.schedule_clock = \"steps\"");
  }
  return o;
}

}  // namespace nosharing
