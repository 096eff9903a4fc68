// Optimisers from the config: SGD with (Nesterov) momentum and L2 weight decay, or AdamW.
#pragma once

#include <torch/optim/optimizer.h>

#include <memory>
#include <vector>

#include "nosharing/core/config.h"

namespace nosharing {

// train.optimizer, train.lr, train.momentum, train.nesterov, train.weight_decay.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const Config& config,
                                                        std::vector<torch::Tensor> parameters);

// Sets the learning rate of every parameter group.
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

// Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True); LibTorch 1.13's
// Optimizer::zero_grad() fills them with zeros). The next backward then hands its gradient
// to .grad as it is, where zeros cost a fill and an addition over every parameter per step
// (alltnn-small: steps ~6 % faster; TopographicTrainStep). A parameter the step does not reach
// keeps no gradient and the optimiser skips it, weight decay included.
void clear_gradients(torch::optim::Optimizer& optimizer);

}  // namespace nosharing
