// What the training loop asks of the other ranks, as one interface: a one-process run's
// group does nothing, a data-parallel run's (train/communicator.h: c10d over Gloo) keeps the
// ranks' models, random streams, clocks and decisions the same. The trainer reads top to
// bottom either way and never asks which one it has.
#pragma once

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nosharing/core/config.h"
#include "nosharing/train/checkpoint.h"
#include "nosharing/train/evaluate.h"

namespace nosharing {

class Communicator;

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;

  virtual int rank() const { return 0; }
  virtual int world_size() const { return 1; }
  // Rank 0 writes the run directory and prints.
  bool writer() const { return rank() == 0; }

  // Rank 0 creates `run_dir` (create_run_directory: `force` empties an existing one) and
  // tells the others where it is, or why it could not: rank 0's error is every rank's.
  // Every rank returns rank 0's path (a default run directory is named by rank 0's clock)
  // and whether the directory is new.
  struct RunDirectory {
    std::string path;
    bool created = false;
  };
  virtual RunDirectory create_run_directory(const std::string& run_dir, bool force);

  // After the model is built (and loaded from the checkpoint, if any): every rank holds
  // rank 0's model and draws its own random stream, resumed from `state` when it holds one
  // per rank, else derived from (seed, rank, state.step); gradients are averaged from here on.
  virtual void start(torch::nn::Module& model, const TrainerState& state, uint64_t seed,
                     bool resume) {}
  // This rank's share of the validation indices.
  virtual torch::Tensor validation_shard(const torch::Tensor& indices) const { return indices; }

  // Around each backward pass (`step` 1-based, for error messages); finish_backward returns
  // the seconds spent blocked on the gradient average.
  virtual void begin_backward(int64_t step) {}
  virtual double finish_backward() { return 0; }
  // After a sleep phase: every rank keeps rank 0's weights.
  virtual void after_sleep(torch::nn::Module& model, int64_t step) {}
  // Before an evaluation: the ranks' BatchNorm statistics averaged.
  virtual void before_evaluation(torch::nn::Module& model, int64_t step) {}
  // The ranks' shards of an evaluation as one evaluation of the whole split.
  virtual void combine_evaluation(EvalResult& result, int64_t step) {}
  // Before a checkpoint (every rank calls it at the same step): buffers averaged, every
  // rank's random state gathered into state.rank_rng_states.
  virtual void before_checkpoint(torch::nn::Module& model, TrainerState& state) {}
  // Σ over ranks of a few scalars.
  virtual std::vector<double> sum(const std::vector<double>& values, const std::string& what) {
    return values;
  }
  // After every step: whether any rank was interrupted, and rank 0's clock, which decides
  // the time budget and the time-based schedule everywhere. `clock` is this rank's.
  struct Agreement {
    bool interrupted = false;
    double clock = 0;
  };
  virtual Agreement agree(bool interrupted, double clock, int64_t step) {
    return {interrupted, clock};
  }
  // The clock of the budget between agreements: this rank's own in one process (read
  // live), the last agreed one with several ranks.
  virtual double budget_clock(double own_clock) const { return own_clock; }
  // Extra provenance.json keys ("distributed"), null in one process.
  virtual nlohmann::json provenance(const Config& config) const { return nullptr; }
};

// A data-parallel run's group over `communicator` (not owned) when it has more than one
// rank; otherwise the one-process group.
std::unique_ptr<ProcessGroup> make_process_group(Communicator* communicator, const Config& config);

}  // namespace nosharing
