// Config → model, and the named presets (DESIGN §2).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <utility>

#include "nosharing/core/error.h"
#include "nosharing/layers/locally_connected.h"
#include "nosharing/models/lcnet.h"
#include "nosharing/models/mapformer.h"
#include "nosharing/models/model.h"
#include "nosharing/models/resnet.h"
#include "nosharing/models/wlsc.h"

namespace nosharing {
namespace {

// The network of fmnist-lc and of fmnist-lc-topo, which only adds a loss.
// (A function, not a global, so no static-initialisation order can see it empty.)
const std::string& fmnist_lc_model() {
  static const std::string text = R"([model]
type = "lcnet"
sharing = "none"
channels = [32, 64]
kernels = [5, 3]
strides = [2, 2]
paddings = [2, 1]
norm = "batch"
hidden = []
dropout = 0.0
layout = "column"
)";
  return text;
}

// Every preset sets all model keys, so that it reads as a complete description and does not
// change meaning when a default does.
const std::vector<std::pair<std::string, std::string>>& presets() {
  static const std::vector<std::pair<std::string, std::string>> table = {
      {"fmnist-lc", R"(# Two locally connected layers for 28×28 Fashion-MNIST; sheets 14², 7².
# With the default training keys (SGD 0.05, cosine, batch 128, 8 epochs): 0.9148 validation
# accuracy in 153 s of training (docs/RESULTS.md, issue 2).
)" + fmnist_lc_model()},
      {"fmnist-lc-topo", R"(# fmnist-lc (two locally connected layers for 28×28 Fashion-MNIST; sheets 14²,
# 7², column layout) with a topographic loss on both unshared layers: All-TNN's kernel
# smoothness at its paper's main weight 10 (topography.weight's default for it, so that
# --set topography.loss=… gets the other loss's own default), which makes the kernels of a
# channel at neighbouring positions alike. It reads only the weights (no responses), so it
# costs little beside the locally connected layers themselves.
)" + fmnist_lc_model() + R"(
[topography]
loss = "kernel_smoothness"
)"},
      {"fmnist-hypercolumn-topo", R"(# The default. Fashion-MNIST with a cortical first sheet (issue "Maps that emerge";
# docs/maps.md): a fixed centre-surround retina (difference of Gaussians, σ 1 and 2 pixels),
# then LC(5×5, 16, s1, p2) whose 16 channels per position are tiled as 4×4 hypercolumns, so
# lc1's sheet is 112×112 units, one per point; LC(3×3, 36, s2, p1) on a 14×14 grid of 6×6
# hypercolumns (84×84 units). On lc1 the lateral interaction of the orientation field
# (Swindale's Mexican hat on each kernel's orientation vector, column spacing 12 cells): an
# orientation map with pinwheels about 9 column spacings across; on lc2 kernel smoothness
# (All-TNN), for category patches; both at weight 30, 10 epochs (docs/RESULTS.md, "Maps that
# emerge", has what it reaches).
[model]
type = "lcnet"
sharing = "none"
channels = [16, 36]
kernels = [5, 3]
strides = [1, 2]
paddings = [2, 1]
norm = "batch"
hidden = []
dropout = 0.0
layout = "hypercolumn"
retina = "dog"
retina_sigmas = [1.0, 2.0]

[topography]
layer_losses = ["lateral_interaction", "kernel_smoothness"]
weight = 30.0
field = "orientation"
spacing = 12.0

[train]
epochs = 10
)"},
      {"alltnn-small", R"(# A CIFAR-sized All-TNN (Lu et al.; DESIGN §2): three locally connected layers whose
# channels are laid out as hypercolumns (√C×√C blocks per position), square channel counts
# 16, 36, 64: LC(5×5, 16, s2, p2) → LC(5×5, 36, s2, p2) → LC(3×3, 64, s1, p1) → classes,
# BatchNorm per channel + ReLU after each LC. Positions 16², 8², 8² for 32×32 inputs; sheets
# 64², 48², 64² units. About 2.6 M parameters. No topographic loss: the experiments add one.
[model]
type = "lcnet"
sharing = "none"
channels = [16, 36, 64]
kernels = [5, 5, 3]
strides = [2, 2, 1]
paddings = [2, 2, 1]
norm = "batch"
hidden = []
dropout = 0.0
layout = "hypercolumn"
)"},
      {"pogodin-resnet20", R"(# ResNet-20 for CIFAR (He et al. 2016: 3 stages of 3 basic blocks, widths 16/32/64,
# 3×3 convolutions, 1×1 projection shortcuts where the width or size changes) with every
# conv-shaped layer unshared, the shortcuts too, BatchNorm per channel (Pogodin et al. 2021;
# DESIGN §2). The twin: --set model.sharing=conv.
[model]
type = "resnet"
sharing = "none"
channels = [16, 32, 64]
blocks = 3
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
layout = "column"
)"},
      {"mapformer-fmnist", R"(# The Mapformer (seed 000, DESIGN §2) for 28×28 Fashion-MNIST: 4×4 patches → a 7×7 grid of
# columns, D = 64, 4 blocks of column attention + column MLP (hidden 8 per column), unshared
# patch embedding, factorised per-class head; spatial bias starts local (gaussian, σ = 1.5).
# Auxiliary losses per block: wiring cost of the attention maps (weight 0.05) and local
# InfoNCE on the block outputs (weight 0.1). Training recipe: experiments/mapformer-fmnist.toml.
[model]
type = "mapformer"
sharing = "none"
patch = 4
dim = 64
depth = 4
mlp_ratio = 0.125
embedding = "unshared"
content_attn = true
spatial_bias = true
bias_init = "gaussian"
bias_sigma = 1.5
attn_dropout = 0.0
drop_path = 0.0
layerwise = false
aux_wiring = 0.05
aux_infonce = 0.1
)"},
      {"mapformer-cifar", R"(# The Mapformer (seed 000, DESIGN §2) for 32×32 CIFAR: 4×4 patches → an 8×8 grid of
# columns, D = 128, 6 blocks of column attention + column MLP (hidden 16 per column),
# unshared patch embedding, factorised per-class head; spatial bias starts local (gaussian,
# σ = 2), stochastic depth up to 0.05. Auxiliary losses per block: wiring cost of the
# attention maps (weight 0.05) and local InfoNCE on the block outputs (weight 0.1, 512
# anchors and 512 negatives per block). About 2.1 M parameters. Training recipe (AdamW, a
# 28-minute time-annealed budget): experiments/mapformer-cifar.toml.
[model]
type = "mapformer"
sharing = "none"
patch = 4
dim = 128
depth = 6
mlp_ratio = 0.125
embedding = "unshared"
content_attn = true
spatial_bias = true
bias_init = "gaussian"
bias_sigma = 2.0
attn_dropout = 0.0
drop_path = 0.05
layerwise = false
aux_wiring = 0.05
aux_infonce = 0.1
[topography]
anchors = 512
negatives = 512
)"},
      {"wlsc", R"(# Sparse coding on a sheet (DESIGN §2, seed 004): 256 unit-norm atoms on a 16×16
# sheet, 30 ISTA steps with step 1/L, λ = 0.1, no topographic term (β = 0); trains on
# whitened patches (patches.*) of a flat image folder such as ../shared/data/natural/kodak.
# experiments/wlsc-kodak*.toml hold the measured settings.
[model]
type = "wlsc"
[wlsc]
atoms = 256
steps = 30
encoder = "ista"
step_size = "fixed"
step_scale = 1.0
lambda = 0.1
beta = 0.0
laplacian = []
nonnegative = false
gradient = "unrolled"
)"},
  };
  return table;
}

}  // namespace

namespace {

Model build_model_of_type(const Config& config, const InputShape& input, int64_t num_classes) {
  const std::string& type = config.get_string("model.type");
  if (type == "lcnet") {
    return std::make_shared<LcNetImpl>(LcNetOptions::from_config(config, input, num_classes));
  }
  if (type == "mapformer") {
    return std::make_shared<MapformerImpl>(
        MapformerOptions::from_config(config, input, num_classes));
  }
  if (type == "wlsc") {
    return std::make_shared<WlscImpl>(WlscOptions::from_config(config, input));
  }
  if (type == "resnet") {
    return std::make_shared<ResNetImpl>(ResNetOptions::from_config(config, input, num_classes));
  }
  throw_usage("model.type = \"{}\": no such model; expected lcnet, mapformer, wlsc or resnet",
              type);
}

}  // namespace

void tie_to_twin(ModelImpl& net, const ModelImpl& twin) {
  TORCH_CHECK(!net.unshared_layers().empty() && twin.unshared_layers().empty() &&
                  net.unshared_layers().size() == twin.conv_layers().size(),
              "tie_to_twin: expected an unshared net and its conv twin");
  torch::NoGradGuard no_grad;
  auto unshared = net.unshared_layers();
  const auto convs = twin.conv_layers();
  for (size_t i = 0; i < convs.size(); ++i) {
    unshared[i].second->tie_to_conv(convs[i].second->weight, convs[i].second->bias);
  }
  const auto twin_parameters = twin.named_parameters();
  for (auto& parameter : net.named_parameters()) {
    const std::string& name = parameter.key();
    const bool unshared_layer = std::any_of(unshared.begin(), unshared.end(), [&](const auto& l) {
      return name.rfind(l.first + ".", 0) == 0;
    });
    if (!unshared_layer) parameter.value().copy_(twin_parameters[name]);
  }
}

void share_initial_kernels(ModelImpl& net) {
  torch::NoGradGuard no_grad;
  for (const auto& [name, layer] : net.unshared_layers()) {
    for (torch::Tensor tensor : {layer->weight, layer->bias}) {
      if (tensor.defined()) tensor.copy_(tensor.narrow(0, 0, 1).expand_as(tensor).clone());
    }
  }
}

Model build_model(const Config& config, const InputShape& input, int64_t num_classes) {
  Model model = build_model_of_type(config, input, num_classes);
  const std::string& init = config.get_string("model.lc_init");
  if (init == "shared") {
    share_initial_kernels(*model);
  } else if (init != "independent") {
    throw_usage("model.lc_init = \"{}\": expected independent or shared", init);
  }
  return model;
}

void check_input_images(const torch::Tensor& images, const InputShape& input, const char* model) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == input.channels &&
                  images.size(2) == input.height && images.size(3) == input.width,
              model, ": expected images [B, ", input.channels, ", ", input.height, ", ",
              input.width, "], got ", images.sizes());
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
