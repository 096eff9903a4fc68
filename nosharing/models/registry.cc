// Config → model, and the named presets (DESIGN §2).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <utility>

#include "nosharing/core/error.h"
#include "nosharing/models/lcnet.h"
#include "nosharing/models/model.h"

namespace nosharing {
namespace {

// Every preset sets all model keys, so that it reads as a complete description and does not
// change meaning when a default does.
const std::vector<std::pair<std::string, std::string>>& presets() {
  static const std::vector<std::pair<std::string, std::string>> table = {
      {"fmnist-lc", R"(# Two locally connected layers for 28×28 Fashion-MNIST; sheets 14², 7².
# The quick default. With the default training keys (SGD 0.05, cosine, batch 128, 8 epochs) a
# PyTorch re-implementation reached 0.90 validation accuracy after epoch 4 and 0.912 after 8,
# at about 40 s per epoch on 2 idle cores; to be re-measured with nosharing's own trainer.
[model]
type = "lcnet"
sharing = "none"
channels = [32, 64]
kernels = [5, 3]
strides = [2, 2]
paddings = [2, 1]
norm = "batch"
hidden = []
dropout = 0.0
)"},
      {"ott-cifar", R"(# Ott et al. 2020 (DESIGN §2): LC(5×5, 64, s2, p2) → LC(5×5, 128, s2, p2) →
# LC(3×3, 256, s1, p1) → FC 1024 → classes, BatchNorm per channel + ReLU after each LC;
# sheets 16², 8², 8² for 32×32 inputs. About 50 M parameters unshared, 17.3 M for the twin.
[model]
type = "lcnet"
sharing = "none"
channels = [64, 128, 256]
kernels = [5, 5, 3]
strides = [2, 2, 1]
paddings = [2, 2, 1]
norm = "batch"
hidden = [1024]
dropout = 0.0
)"},
  };
  return table;
}

}  // namespace

Model build_model(const Config& config, const InputShape& input, int64_t num_classes) {
  const std::string& type = config.get_string("model.type");
  if (type == "lcnet") {
    return std::make_shared<LcNetImpl>(LcNetOptions::from_config(config, input, num_classes));
  }
  throw_usage("model.type = \"{}\": no such model; expected lcnet", type);
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& [name, text] : presets()) names.push_back(name);
  return names;
}

std::optional<std::string> preset_toml(const std::string& name) {
  for (const auto& [preset, text] : presets()) {
    if (preset == name) return text;
  }
  throw_usage("model.preset = \"{}\": no such preset; expected one of {}", name,
              fmt::join(preset_names(), ", "));
}

}  // namespace nosharing
