// The training loop of `nosharing train`: optimiser steps with the configured schedule,
// evaluation on the validation split (every epoch end, every train.eval_every steps and at
// the end), metrics.jsonl lines, checkpoints (every epoch end, at the end and on Ctrl-C) and
// exact resumption.
#pragma once

#include <torch/optim/optimizer.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "nosharing/core/config.h"
#include "nosharing/models/model.h"
#include "nosharing/sharing/dynamic_sharing.h"
#include "nosharing/train/checkpoint.h"
#include "nosharing/train/evaluate.h"
#include "nosharing/train/interval_metrics.h"
#include "nosharing/train/metrics_log.h"
#include "nosharing/train/process_group.h"
#include "nosharing/train/run_data.h"
#include "nosharing/train/step_profile.h"
#include "nosharing/train/topographic_objective.h"
#include "nosharing/train/train_loop_options.h"

namespace nosharing {

struct TrainOptions {
  std::string run_dir;
  bool resume = false;       // continue from run_dir/checkpoint (config from run_dir)
  bool quiet = false;        // no progress line, no per-evaluation summary on stdout
  // A "profile" line (train/step_profile.h) after every "train" line of metrics.jsonl.
  bool profile = false;
  std::string command_line;  // recorded in provenance.json
  // Test hook: behave as if Ctrl-C arrived right after this optimiser step (0: never).
  int64_t interrupt_after_step = 0;
  // Test hook: stop right after this optimiser step as a killed process would — no
  // checkpoint, nothing more written — returning kInterrupted (0: never).
  int64_t abandon_after_step = 0;
  // On resume, continue although the training data's checksum differs from provenance.json's
  // (otherwise a UsageError naming data.path).
  bool accept_changed_data = false;
  // The ranks of a data-parallel run (train/process_group.h; null: one process): this rank
  // trains on its share of every batch with gradients averaged over the ranks; only rank 0
  // writes run_dir (config, provenance, metrics, checkpoints) and prints. On resume, every
  // rank reads run_dir's checkpoint. Not owned.
  ProcessGroup* group = nullptr;
};

enum class TrainStatus { kFinished, kInterrupted };

struct TrainResult {
  TrainStatus status = TrainStatus::kFinished;
  TrainerState state;
  EvalResult last_eval;  // validation result at the end (n = 0 without a validation split)
};

// One training run. The constructor sets everything up in the order that makes a resumed
// run bit-identical to an uninterrupted one: threads, data, seed, model, optimiser, loaders,
// the checkpoint (on resume), the run's files, the other ranks, sleep phases and
// topographic losses. run() then trains until the steps, epochs or time budget run out, or
// an interruption.
class Trainer {
 public:
  // options.run_dir must exist (ProcessGroup::create_run_directory) on rank 0; on resume,
  // `config` must be the run's own config.toml.
  Trainer(const Config& config, const TrainOptions& options);
  TrainResult run();

 private:
  using Clock = std::chrono::steady_clock;

  void refuse_changed_data() const;
  void write_run_files() const;
  // Training wall time of the run (earlier sessions included).
  double elapsed() const;
  // How far training is in [0, 1] as the schedule counts it: the steps taken, with
  // train.schedule_clock = time the share of the time budget at `clock` if further along.
  double training_progress(double clock) const;
  // The clock of the time budget and the time-based schedule (rank 0's in every rank).
  double budget_clock() const { return group_->budget_clock(elapsed()); }
  void log(const nlohmann::json& line) const;
  // The validation split's loss and accuracy, logged as an "eval" line and printed.
  void evaluate(int64_t epoch_number);
  // The checkpoint of every rank's state, written by rank 0 (a collective with several
  // ranks: every rank calls it at the same step).
  void checkpoint();
  // A sleep phase (DESIGN §3) every sharing.every optimiser steps.
  void sleep_if_due();
  // The "train" line (and with --profile the "profile" line) of the interval that ends now.
  void log_interval(int64_t epoch, double lr);
  // Names the first non-finite term of a step's loss in one RuntimeError.
  [[noreturn]] void throw_non_finite(double loss, const ModelObjective& objective,
                                     const std::vector<TopographicTermValue>& topographic_terms,
                                     int64_t epoch) const;

  const Config& config_;
  const TrainOptions options_;
  const TrainLoopOptions loop_;
  std::unique_ptr<ProcessGroup> one_process_;  // the group when options.group is null
  ProcessGroup* group_;
  const bool quiet_;
  int threads_ = 0;
  RunData data_;
  Model model_{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<BatchLoader> train_loader_;
  std::unique_ptr<BatchLoader> val_loader_;  // null without a validation split
  int64_t steps_per_epoch_ = 0;
  int64_t total_steps_ = 0;
  ScheduleOptions schedule_;
  TrainerState state_;
  MetricsLog metrics_;
  SharingOptions sharing_;
  ModelImpl* sleeping_net_ = nullptr;  // the model when sleep phases are on
  std::optional<ClassSizeGradientScale> gradient_scale_;
  std::unique_ptr<TopographicObjective> topography_;

  Clock::time_point start_;
  double seconds_before_ = 0;        // the resumed run's training time
  double last_checkpoint_clock_ = 0;
  int64_t last_eval_step_ = -1;
  EvalResult last_eval_;
  StepProfile profile_;              // logged with --profile
  IntervalMetrics interval_;
};

// Trains the model `config` describes in options.run_dir: Trainer(config, options).run().
TrainResult train_model(const Config& config, const TrainOptions& options);

// Installs a SIGINT handler that asks a running train_model to checkpoint and stop
// (a second Ctrl-C kills the process as usual).
void install_interrupt_handler();

}  // namespace nosharing
