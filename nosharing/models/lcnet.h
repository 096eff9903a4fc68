// `lcnet` (DESIGN §2): a stack of locally connected layers, each followed by a norm and a
// ReLU, then fully connected layers. `model.sharing = "conv"` builds the twin: the same
// network with torch::nn::Conv2d in place of every locally connected layer, under the same
// submodule names ("lc1", "lc2", …) so that results of the two line up.
#pragma once

#include <torch/arg.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nosharing/core/config.h"
#include "nosharing/core/sheet.h"
#include "nosharing/layers/locally_connected.h"
#include "nosharing/layers/response_tap.h"
#include "nosharing/models/model.h"

namespace nosharing {

enum class LcNetSharing {
  kNone,  // every position owns its kernel (LocallyConnected2d)
  kConv,  // the twin: one kernel for all positions (Conv2d)
};

enum class LcNetNorm {
  kBatch,          // BatchNorm2d: statistics and affine per channel (shared over positions)
  kBatchPosition,  // BatchNorm1d over C·H·W: per channel and position, so unshared too
  kNone,
};

struct LcNetOptions {
  LcNetOptions(InputShape input, int64_t num_classes, std::vector<int64_t> channels);

  // Reads model.sharing, model.channels, model.kernels, model.strides, model.paddings,
  // model.norm, model.hidden, model.dropout and model.lc_path. Shapes are checked when the net is built.
  static LcNetOptions from_config(const Config& config, const InputShape& input,
                                  int64_t num_classes);

  TORCH_ARG(InputShape, input);
  TORCH_ARG(int64_t, num_classes);
  // Output channels of each layer; its length is the number of layers.
  TORCH_ARG(std::vector<int64_t>, channels);
  // Per layer, or one value for all layers.
  TORCH_ARG(std::vector<int64_t>, kernels) = std::vector<int64_t>{3};
  TORCH_ARG(std::vector<int64_t>, strides) = std::vector<int64_t>{1};
  // Per layer, or one value for all layers; empty: kernel // 2 for each layer.
  TORCH_ARG(std::vector<int64_t>, paddings) = std::vector<int64_t>{};
  TORCH_ARG(LcNetSharing, sharing) = LcNetSharing::kNone;
  TORCH_ARG(LcNetNorm, norm) = LcNetNorm::kBatch;
  // Widths of the fully connected hidden layers before the classifier.
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{};
  // Dropout probability before every fully connected layer (0: none).
  TORCH_ARG(double, dropout) = 0.0;
  // Unshared layers run the plain LibTorch reference path instead of the fast kernel.
  TORCH_ARG(bool, reference_kernels) = false;
  // Sheet geometry of every layer's output units (DESIGN §1, core/sheet.h): model.layout,
  // model.jitter, model.sheet_extent (per layer, or one value for all; empty: grid units) and
  // the seed of the retinotopic jitter (from train.seed).
  TORCH_ARG(SheetLayout, layout) = SheetLayout::kColumn;
  TORCH_ARG(double, jitter) = 1.0;
  TORCH_ARG(std::vector<double>, sheet_extents) = std::vector<double>{};
  TORCH_ARG(uint64_t, sheet_seed) = 0;
  // A fixed centre-surround stage before the first layer (model.retina = dog): every input
  // channel convolved with a difference of Gaussians of these [centre, surround] σ (input
  // pixels), each Gaussian normalised to sum 1, so uniform regions give 0 and the first
  // layer sees local contrast, as V1 does through the retina and LGN. Empty: none.
  TORCH_ARG(std::vector<double>, retina_sigmas) = std::vector<double>{};
};

// The centre-surround kernel of LcNetOptions::retina_sigmas: float32 [2r + 1, 2r + 1],
// r = ⌈3·σ_surround⌉, summing to 0.
torch::Tensor difference_of_gaussians(double centre_sigma, double surround_sigma);

// The resolved shape of one conv-shaped layer of an lcnet.
struct LcNetLayerSpec {
  std::string name;  // "lc1", "lc2", …
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel = 0;
  int64_t stride = 0;
  int64_t padding = 0;
  int64_t input_height = 0;
  int64_t input_width = 0;
  int64_t output_height = 0;  // the layer's sheet is output_height × output_width
  int64_t output_width = 0;
};

// Broadcasts the per-layer lists and checks every shape. Throws a UsageError naming the
// config key and its value ("model.kernels = [5, 40]: layer lc2 kernel 40 is larger than
// its padded input 14×14").
std::vector<LcNetLayerSpec> lcnet_layer_specs(const LcNetOptions& options);

class LcNetImpl : public ModelImpl {
 public:
  explicit LcNetImpl(LcNetOptions options);

  // images [B, C, H, W] (as options.input()) → logits [B, num_classes].
  torch::Tensor forward(torch::Tensor images) override;
  // The fixed stage before the first layer (identity without model.retina): images
  // [B, C, H, W] → [B, C, H, W], border pixels replicated.
  torch::Tensor retina(const torch::Tensor& images) const;

  const LcNetOptions& options() const { return options_; }
  const std::vector<LcNetLayerSpec>& layer_specs() const { return specs_; }

  // The locally connected layers by name, in order; empty for the twin.
  std::vector<std::pair<std::string, LocallyConnected2d>> unshared_layers() const override;
  // The Conv2d layers by name, in order; empty unless sharing is kConv.
  std::vector<std::pair<std::string, torch::nn::Conv2d>> conv_layers() const override;

  // The sheet of each conv-shaped layer's output units, in layer order (same for the twin).
  const std::vector<Sheet>& sheets() const { return sheets_; }

  // Every conv-shaped layer is a topographic layer, on its sheet.
  size_t topographic_layer_count() const override { return specs_.size(); }
  TopographicLayer topographic_layer(size_t index, bool with_responses) const override;
  // When on, forward keeps each conv-shaped layer's output after its norm and ReLU,
  // [B, C, H_out, W_out] per layer in order, for losses on responses (topography). Off by
  // default: the kept tensors hold their autograd graph until the next forward.
  void record_responses(bool on) override { record_responses_ = on; }
  const std::vector<torch::Tensor>& recorded_responses() const { return recorded_; }
  // Per recorded layer, the sink its responses were tapped with (layers/response_tap.h) when
  // the forward built a graph through them; otherwise null.
  const std::vector<std::shared_ptr<ResponseGradientSink>>& recorded_sinks() const {
    return recorded_sinks_;
  }

 private:
  LcNetOptions options_;
  std::vector<LcNetLayerSpec> specs_;
  // Exactly one of unshared_ / conv_ is filled, one entry per layer.
  std::vector<LocallyConnected2d> unshared_;
  std::vector<torch::nn::Conv2d> conv_;
  // Filled according to options_.norm(), one entry per layer.
  std::vector<torch::nn::BatchNorm2d> channel_norms_;
  std::vector<torch::nn::BatchNorm1d> position_norms_;
  // Hidden layers then the classifier last.
  std::vector<torch::nn::Linear> fully_connected_;
  std::vector<Sheet> sheets_;
  torch::Tensor retina_kernel_;  // buffer [C, 1, K, K], or undefined
  bool record_responses_ = false;
  std::vector<torch::Tensor> recorded_;
  std::vector<std::shared_ptr<ResponseGradientSink>> recorded_sinks_;
};

TORCH_MODULE(LcNet);

}  // namespace nosharing
