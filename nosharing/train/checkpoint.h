// The run's latest checkpoint: checkpoint/state.pt holds the model, the optimiser, the
// position in the data order and LibTorch's RNG state, so `--resume` continues exactly.
// It is written to a temporary name and renamed, so a crash never leaves half a file.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <string>

namespace nosharing {

struct TrainerState {
  int64_t step = 0;            // optimiser steps completed
  int64_t epoch = 0;           // 0-based epoch of the next batch
  int64_t batch_in_epoch = 0;  // index of the next batch within that epoch
  double seconds = 0;          // training wall time so far
  double best_accuracy = -1;   // best validation accuracy so far (-1: none yet)
  // Data-parallel runs: every rank's CPU generator state, uint8 [world size, state bytes]
  // (row r: rank r), so that each rank resumes its own random stream (dropout, sampled
  // losses). Undefined in one-process runs and in checkpoints without it.
  torch::Tensor rank_rng_states;
};

std::string checkpoint_path(const std::string& run_dir);

void save_checkpoint(const std::string& run_dir, torch::nn::Module& model,
                     torch::optim::Optimizer* optimizer, const TrainerState& state);

// Loads into `model` (and `optimizer` if given). A missing or corrupt checkpoint is a
// RuntimeError naming the file.
TrainerState load_checkpoint(const std::string& run_dir, torch::nn::Module& model,
                             torch::optim::Optimizer* optimizer);

}  // namespace nosharing
