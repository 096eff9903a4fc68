// `resnet` (DESIGN §2, the `pogodin-resnet20` preset): a CIFAR ResNet (He et al. 2016, the
// 6n + 2 layer family; n = 3 gives ResNet-20, widths 16/32/64) in which every conv-shaped
// layer is unshared, the 1×1 projection shortcuts too, as in Pogodin et al. 2021 (seeds 001,
// 003); BatchNorm stays per channel. `model.sharing = "conv"` builds the twin: Conv2d
// everywhere under the same submodule names, so the two line up layer by layer.
//
//   stem   conv1 3×3 (C₁) → BN → ReLU
//   stage s = 1 … S, block b = 1 … n ("s{s}b{b}_…"):
//          y = BN(conv2 3×3(ReLU(BN(conv1 3×3, stride 2 at the first block of stages > 1)(x))))
//          x = ReLU(y + shortcut(x)),  shortcut = BN(1×1 conv, same stride) when the width or
//          the size changes, else the identity
//   head   global average pool → fc (classes)
// Convolutions have no bias (each is followed by a BatchNorm).
#pragma once

#include <torch/arg.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nosharing/core/config.h"
#include "nosharing/layers/locally_connected.h"
#include "nosharing/models/lcnet.h"
#include "nosharing/models/model.h"

namespace nosharing {

struct ResNetOptions {
  ResNetOptions(InputShape input, int64_t num_classes) : input_(input), num_classes_(num_classes) {}
  // Reads model.sharing, model.channels (the stage widths), model.blocks and model.lc_path.
  static ResNetOptions from_config(const Config& config, const InputShape& input,
                                   int64_t num_classes);
  TORCH_ARG(InputShape, input);
  TORCH_ARG(int64_t, num_classes);
  // Width of each stage; the stem has the first stage's width.
  TORCH_ARG(std::vector<int64_t>, widths) = std::vector<int64_t>{16, 32, 64};
  // Basic blocks per stage (n: 6n + 2 layers).
  TORCH_ARG(int64_t, blocks) = 3;
  TORCH_ARG(LcNetSharing, sharing) = LcNetSharing::kNone;
  // Unshared layers run the plain LibTorch reference path instead of the fast kernel.
  TORCH_ARG(bool, reference_kernels) = false;
};

class ResNetImpl : public ModelImpl {
 public:
  explicit ResNetImpl(ResNetOptions options);
  // images [B, C, H, W] (as options.input()) → logits [B, num_classes].
  torch::Tensor forward(torch::Tensor images) override;
  std::vector<std::pair<std::string, LocallyConnected2d>> unshared_layers() const override;
  std::vector<std::pair<std::string, torch::nn::Conv2d>> conv_layers() const override;
  const ResNetOptions& options() const { return options_; }

 private:
  // One conv-shaped layer and the BatchNorm after it: exactly one of lc / conv is set.
  struct ConvUnit {
    std::string name;
    LocallyConnected2d lc{nullptr};
    torch::nn::Conv2d conv{nullptr};
    torch::nn::BatchNorm2d norm{nullptr};
  };
  struct Block {
    ConvUnit first, second;
    bool projection = false;
    ConvUnit shortcut;  // set when projection
  };
  // Builds and registers "<name>" and "<name>_bn"; returns the output side.
  ConvUnit make_unit(const std::string& name, int64_t in_channels, int64_t out_channels,
                     int64_t kernel, int64_t stride, int64_t side_height, int64_t side_width);
  torch::Tensor apply(ConvUnit& unit, const torch::Tensor& x);
  // Every conv-shaped layer, in forward order (stem, then per block conv1, conv2, shortcut).
  std::vector<const ConvUnit*> units() const;

  ResNetOptions options_;
  ConvUnit stem_;
  std::vector<Block> blocks_;
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(ResNet);

}  // namespace nosharing
