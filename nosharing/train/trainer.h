// The training loop of `nosharing train`: optimiser steps with the configured schedule,
// evaluation on the validation split (every epoch end, every train.eval_every steps and at
// the end), metrics.jsonl lines, checkpoints (every epoch end, at the end and on Ctrl-C) and
// exact resumption.
#pragma once

#include <cstdint>
#include <string>

#include "nosharing/core/config.h"
#include "nosharing/train/checkpoint.h"
#include "nosharing/train/evaluate.h"

namespace nosharing {

class Communicator;

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
  // Data-parallel training (nosharing/train/distributed.h) when set with more than one
  // rank: this rank trains on its share of every batch with gradients averaged over the
  // ranks; only rank 0 writes run_dir (config, provenance, metrics, checkpoints) and prints.
  // On resume, every rank reads run_dir's checkpoint. Not owned.
  Communicator* communicator = nullptr;
};

enum class TrainStatus { kFinished, kInterrupted };

struct TrainResult {
  TrainStatus status = TrainStatus::kFinished;
  TrainerState state;
  EvalResult last_eval;  // validation result at the end (n = 0 without a validation split)
};

// Trains the model `config` describes in options.run_dir, which must exist (see
// create_run_directory) on rank 0; on resume, `config` must be the run's own config.toml.
TrainResult train_model(const Config& config, const TrainOptions& options);

// Installs a SIGINT handler that asks a running train_model to checkpoint and stop
// (a second Ctrl-C kills the process as usual).
void install_interrupt_handler();

}  // namespace nosharing
