#include "nosharing/train/process_group.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "nosharing/core/error.h"
#include "nosharing/core/seed.h"
#include "nosharing/train/communicator.h"
#include "nosharing/train/gradient_allreduce.h"
#include "nosharing/train/model_sync.h"
#include "nosharing/train/run_directory.h"

namespace nosharing {
namespace {

// Stream identifier in derive_seed of each rank's generator in data-parallel runs: "rank".
constexpr uint64_t kRankStream = 0x72616e6bULL;

class DataParallelGroup final : public ProcessGroup {
 public:
  DataParallelGroup(Communicator& comm, const Config& config)
      : comm_(comm),
        options_(DistributedOptions::from_config(config)),
        batch_size_(config.get_int("train.batch_size")) {}

  int rank() const override { return comm_.rank(); }
  int world_size() const override { return comm_.world_size(); }

  // Rank 0's outcome travels as "ok:<path>", "usage:<message>" or "runtime:<message>".
  RunDirectory create_run_directory(const std::string& run_dir, bool force) override {
    std::string outcome = "ok:" + run_dir;
    RunDirectory made{run_dir, false};
    if (writer()) {
      try {
        made = ProcessGroup::create_run_directory(run_dir, force);
      } catch (const UsageError& error) {
        outcome = std::string("usage:") + error.what();
      } catch (const std::exception& error) {
        outcome = std::string("runtime:") + error.what();
      }
    }
    const std::string status =
        comm_.broadcast_text(outcome, 0, "waiting for rank 0 to create the run directory");
    if (status.rfind("usage:", 0) == 0) {
      throw UsageError(writer() ? status.substr(6) : "rank 0 stopped: " + status.substr(6));
    }
    if (status.rfind("runtime:", 0) == 0) {
      throw RuntimeError(writer() ? status.substr(8) : "rank 0 stopped: " + status.substr(8));
    }
    made.path = status.substr(3);
    return made;
  }

  void start(torch::nn::Module& model, const TrainerState& state, uint64_t seed,
             bool resume) override {
    // One model everywhere (on resume every rank read the same checkpoint already).
    broadcast_module(comm_, model, "broadcasting the initial model from rank 0");
    // Each rank draws its own random stream (dropout, sampled topographic losses): resumed
    // from the checkpoint when it holds one per rank of this world size, otherwise derived
    // from (train.seed, rank, step).
    if (state.rank_rng_states.defined() && state.rank_rng_states.size(0) == world_size()) {
      set_generator_state(state.rank_rng_states[rank()]);
    } else {
      if (resume && writer()) {
        std::fprintf(stderr,
                     "nosharing: note: resuming with WORLD_SIZE = %d, the checkpoint holds no "
                     "random state for that many ranks; the data order is unchanged, dropout and "
                     "sampled losses draw fresh random numbers\n",
                     world_size());
      }
      seed_torch(derive_seed(seed, kRankStream, static_cast<uint64_t>(rank()),
                             static_cast<uint64_t>(state.step)));
    }
    gradients_ = std::make_unique<GradientAllreduce>(comm_, model.parameters(), options_);
    agreed_clock_ = state.seconds;  // until the first agreement: the run's time so far
  }

  torch::Tensor validation_shard(const torch::Tensor& indices) const override {
    const auto [begin, end] = shard_range(indices.numel(), rank(), world_size());
    return indices.narrow(0, begin, end - begin);
  }

  void begin_backward(int64_t step) override { gradients_->begin_step(step); }
  double finish_backward() override { return gradients_->finish_step(); }

  void after_sleep(torch::nn::Module& model, int64_t step) override {
    // Every rank ran the same phase on the same weights; rank 0's copy makes sure they stay
    // equal to the last bit.
    broadcast_parameters(
        comm_, model,
        fmt::format("broadcasting the weights after the sleep phase of step {}", step));
  }

  void before_evaluation(torch::nn::Module& model, int64_t step) override {
    average_buffers(comm_, model,
                    fmt::format("averaging the buffers before the evaluation of step {}", step));
  }

  void combine_evaluation(EvalResult& r, int64_t step) override {
    // Sums over the shards: the numbers of one process evaluating the whole split.
    const double n = static_cast<double>(r.n);
    const std::vector<double> sums =
        comm_.sum({r.loss * n, r.has_accuracy ? std::round(r.accuracy * n) : 0.0, n},
                  fmt::format("summing the evaluation of step {}", step));
    r.n = std::llround(sums[2]);
    r.loss = r.n > 0 ? sums[0] / sums[2] : 0.0;
    r.accuracy = r.n > 0 && r.has_accuracy ? sums[1] / sums[2] : 0.0;
  }

  void before_checkpoint(torch::nn::Module& model, TrainerState& state) override {
    average_buffers(
        comm_, model,
        fmt::format("averaging the buffers for the checkpoint of step {}", state.step));
    state.rank_rng_states = gather_generator_states(
        comm_,
        fmt::format("gathering the random states for the checkpoint of step {}", state.step));
  }

  std::vector<double> sum(const std::vector<double>& values, const std::string& what) override {
    return comm_.sum(values, what);
  }

  Agreement agree(bool interrupted, double clock, int64_t step) override {
    // Ctrl-C on any rank stops every rank after the same step; rank 0's clock decides the
    // time budget and the time-based schedule.
    const std::vector<double> control =
        comm_.sum({interrupted ? 1.0 : 0.0, writer() ? clock : 0.0},
                  fmt::format("synchronising the ranks after step {}", step));
    agreed_clock_ = control[1];
    return {control[0] > 0, agreed_clock_};
  }

  double budget_clock(double) const override { return agreed_clock_; }

  nlohmann::json provenance(const Config&) const override {
    // "threads" in provenance.json is per rank.
    return {{"world_size", world_size()},
            {"backend", "gloo"},
            {"batch_per_rank", batch_size_ / world_size()}};
  }

 private:
  Communicator& comm_;
  DistributedOptions options_;
  int64_t batch_size_;
  std::unique_ptr<GradientAllreduce> gradients_;
  double agreed_clock_ = 0;
};

}  // namespace

ProcessGroup::RunDirectory ProcessGroup::create_run_directory(const std::string& run_dir,
                                                             bool force) {
  RunDirectory made{run_dir, !std::filesystem::exists(run_dir)};
  nosharing::create_run_directory(run_dir, force);
  return made;
}

std::unique_ptr<ProcessGroup> make_process_group(Communicator* communicator,
                                                 const Config& config) {
  if (communicator == nullptr || communicator->world_size() <= 1) {
    return std::make_unique<ProcessGroup>();
  }
  return std::make_unique<DataParallelGroup>(*communicator, config);
}

}  // namespace nosharing
