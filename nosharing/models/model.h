// The interface every model implements, and the registry that builds one from a config.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nosharing/core/config.h"

namespace nosharing {

struct InputShape {
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;
};

class ModelImpl : public torch::nn::Module {
 public:
  // images: float [B, C, H, W] → logits [B, num_classes].
  virtual torch::Tensor forward(torch::Tensor images) = 0;
};
using Model = std::shared_ptr<ModelImpl>;

// Builds the model the config describes (model.type, model.sharing, …) for inputs of
// `input` shape and `num_classes` classes. Impossible shapes (kernel larger than the
// padded input, stride 0, empty channel lists) are UsageErrors naming the key and value.
Model build_model(const Config& config, const InputShape& input, int64_t num_classes);

// Named presets (DESIGN §2): TOML text that sits between the defaults and the user's
// config. preset_toml throws a UsageError listing the names for an unknown one.
std::vector<std::string> preset_names();
std::optional<std::string> preset_toml(const std::string& name);

}  // namespace nosharing
