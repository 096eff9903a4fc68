// Parameter counts per submodule, for `nosharing info` and for checking model sizes against
// the published ones (DESIGN §2).
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nosharing {

// Total number of scalar parameters (buffers such as BatchNorm running statistics are not
// parameters and are not counted).
int64_t parameter_count(const torch::nn::Module& module);

// One (name, count) per direct child in registration order, then one per parameter the
// module registers itself (named after the parameter). Children without parameters are
// listed with 0. The counts sum to parameter_count(module).
std::vector<std::pair<std::string, int64_t>> parameter_counts(const torch::nn::Module& module);

}  // namespace nosharing
