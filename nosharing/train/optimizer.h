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

}  // namespace nosharing
