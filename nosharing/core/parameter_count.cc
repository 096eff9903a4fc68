#include "nosharing/core/parameter_count.h"

namespace nosharing {

int64_t parameter_count(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& parameter : module.parameters(/*recurse=*/true)) total += parameter.numel();
  return total;
}

std::vector<std::pair<std::string, int64_t>> parameter_counts(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, int64_t>> counts;
  for (const auto& child : module.named_children()) {
    counts.emplace_back(child.key(), parameter_count(*child.value()));
  }
  for (const auto& parameter : module.named_parameters(/*recurse=*/false)) {
    counts.emplace_back(parameter.key(), parameter.value().numel());
  }
  return counts;
}

}  // namespace nosharing
