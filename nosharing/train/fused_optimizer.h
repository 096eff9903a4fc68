// LibTorch's SGD and AdamW with each parameter's update in one pass over its memory (issue
// 22). LibTorch 1.13 runs an update as a chain of whole-tensor ops — SGD with weight decay and
// Nesterov momentum: d = g + λp, b = μb + d, d' = d + μb, p −= ηd' (four passes and two
// parameter-sized temporaries); AdamW five passes and one temporary — which for an unshared
// network of tens of millions of weights is memory traffic of ~13 floats per weight a step.
// Here each element is read once and written once (SGD: p, g, b in, p, b out), in float, with
// the same formulas in the same order; the momentum and moment buffers are LibTorch's own
// state objects, so checkpoints keep their format and either optimiser resumes the other's.
//
// The reference is LibTorch's optimiser itself (train.fused_optimizer = false), and
// fused_optimizer_test.cc checks the two against each other over many steps. Parameters that
// are not contiguous float32 tensors with contiguous gradients take LibTorch's path.
#pragma once

#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

namespace nosharing {

class FusedSGD : public torch::optim::SGD {
 public:
  using torch::optim::SGD::SGD;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace nosharing
