// Keeping the ranks' models and streams the same (train/communicator.h has the whole picture):
// parameters and buffers broadcast from rank 0, floating buffers averaged, random generator
// states gathered for the checkpoint, and each rank's config checked against rank 0's.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <string>

#include "nosharing/core/config.h"
#include "nosharing/train/communicator.h"

namespace nosharing {

// Broadcasts every parameter and buffer of `module` from rank 0.
void broadcast_module(Communicator& comm, torch::nn::Module& module, const std::string& what);
// Broadcasts every parameter of `module` from rank 0.
void broadcast_parameters(Communicator& comm, torch::nn::Module& module, const std::string& what);
// Replaces every floating-point buffer (BatchNorm running mean and variance) by its mean
// over ranks; integer buffers (num_batches_tracked) are equal on every rank and kept.
void average_buffers(Communicator& comm, torch::nn::Module& module, const std::string& what);

// Every rank's `mine` (uint8 [S], the same S everywhere) as rows of uint8 [world size, S]
// (row r: rank r's), on every rank.
torch::Tensor gather_rows(Communicator& comm, const torch::Tensor& mine, const std::string& what);
// Every rank's LibTorch CPU generator state as gather_rows: for the checkpoint, so that each
// rank resumes its own random stream.
torch::Tensor gather_generator_states(Communicator& comm, const std::string& what);
// Sets LibTorch's CPU generator to `state` (uint8 [state bytes], one row of the above).
void set_generator_state(const torch::Tensor& state);

// Refuses to train when this rank's resolved config differs from rank 0's (every key but
// the per-host ones: train.threads, data.threads, data.path): a UsageError naming the first
// differing key and both values.
void check_same_config(Communicator& comm, const Config& config);

}  // namespace nosharing
