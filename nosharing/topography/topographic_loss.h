// Topographic losses (DESIGN §4): each makes the units of one layer's sheet alike where
// they are close. A loss sees one conv-shaped layer (TopographicLayer) and returns a scalar,
// unweighted; train/topographic_objective multiplies by topography.weight and sums layers.
//
// The losses and their sources (one file each):
//   kernel_smoothness    All-TNN (Lu et al. 2023)          weights     paper weight 10
//   spatial_correlation  TDANN (Margalit et al. 2024)      responses   paper weight 0.25
//   topoloss             TopoLoss (Deb et al. 2025)        weights     package scale 1
//   infonce              local InfoNCE (the seed model)    responses   ours 0.1
//   wiring               wiring cost (the seed model)      weights     ours 1e-4
//   lateral_interaction  Mexican hat (Swindale 1996)       weights     ours 30
#pragma once

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nosharing/core/config.h"
#include "nosharing/core/sheet.h"
#include "nosharing/layers/response_tap.h"
#include "nosharing/topography/infonce_options.h"

namespace nosharing {

// One conv-shaped layer as the losses see it. Weights in the locally connected layout
// (layers/locally_connected.h): weight [P, C, D] with P = H_out·W_out positions (row-major),
// C output channels, D = C_in·k·k ordered (c_in, ky, kx); bias [P, C] (undefined: none).
// A twin's Conv2d weight can be passed expanded over positions (a view, no copy).
struct TopographicLayer {
  TopographicLayer(std::string name_, Sheet sheet_)
      : name(std::move(name_)), sheet(std::move(sheet_)) {}

  std::string name;  // "lc1", …
  Sheet sheet;       // the C·H_out·W_out output units
  torch::Tensor weight;
  torch::Tensor bias;
  // The layer's output after its norm and ReLU, [B, C, H_out, W_out]; defined only when the
  // loss needs responses.
  torch::Tensor responses;
  // Where a response loss sends its gradient when the network tapped `responses` with it
  // (layers/response_tap.h); null: the gradient goes back through autograd.
  std::shared_ptr<ResponseGradientSink> response_sink;
  int64_t kernel = 1;  // square kernel side k
  int64_t stride = 1;
};

enum class TopographicLossKind {
  kNone,
  kKernelSmoothness,
  kSpatialCorrelation,
  kTopoLoss,
  kInfoNce,
  kWiring,
  kLateralInteraction,
};

// "none" | "kernel_smoothness" | "spatial_correlation" | "topoloss" | "infonce" | "wiring" |
// "lateral_interaction";
// otherwise a UsageError naming topography.loss.
TopographicLossKind parse_topographic_loss(const std::string& name);
std::string topographic_loss_name(TopographicLossKind kind);
// The weight topography.weight < 0 stands for (the table above).
double default_topographic_weight(TopographicLossKind kind);

// The topography.* keys; checked by from_config with errors naming the key.
struct TopographicLossOptions {
  TopographicLossOptions() = default;
  explicit TopographicLossOptions(TopographicLossKind kind) : kind_(kind) {}
  static TopographicLossOptions from_config(const Config& config);

  TORCH_ARG(TopographicLossKind, kind) = TopographicLossKind::kNone;
  TORCH_ARG(InfoNceLossOptions, infonce);
  // spatial_correlation: neighbourhood radius (sheet units), its unit cap, and how many
  // neighbourhoods are averaged per step and layer.
  TORCH_ARG(double, radius) = 3.0;
  TORCH_ARG(int64_t, units) = 500;
  TORCH_ARG(int64_t, neighbourhoods) = 1;
  // topoloss: blur factor f (down- then up-sampling by f).
  TORCH_ARG(double, factor) = 3.0;
  // kernel_smoothness: weight γ of its coverage term (kernel_smoothness.h).
  TORCH_ARG(double, coverage) = 0.0;
  // lateral_interaction: the column spacing Λ it selects (sheet cells) and σi/σe
  // (lateral_interaction.h).
  TORCH_ARG(double, spacing) = 12.0;
  TORCH_ARG(double, surround) = 2.0;
  // lateral_interaction: "kernels" or "orientation" (lateral_interaction.h).
  TORCH_ARG(std::string, field) = "kernels";
};

// The interface. A module (like LibTorch's losses) without parameters.
class TopographicLossImpl : public torch::nn::Module {
 public:
  // True if forward reads layer.responses (the model must record its outputs).
  virtual bool needs_responses() const = 0;
  // Scalar loss of one layer, unweighted, differentiable w.r.t. weight, bias and responses;
  // in the dtype of the tensors it reads.
  virtual torch::Tensor forward(const TopographicLayer& layer) = 0;

  // True for the losses of the weights alone that can add their gradient in place.
  virtual bool adds_gradients() const { return false; }
  // The loss's unweighted value (forward's, as a double) with scale · its gradient added,
  // outside autograd, into grad_weight and, when the loss reads the bias, grad_bias: the
  // gradients of layer.weight and layer.bias, contiguous, written in place. The training
  // step's path for adds_gradients() losses (TopographicObjective::add_weight_gradients):
  // through autograd the loss's gradient is a second weight-sized tensor, which LibTorch
  // 1.13's engine then sums with the task's into a third, fresh one every step (its
  // InputBuffer; 0.9–2.5 ms a step on alltnn-small under LibTorch's profiler).
  virtual double add_gradients(const TopographicLayer& layer, double scale,
                               const torch::Tensor& grad_weight, const torch::Tensor& grad_bias);
};
using TopographicLoss = std::shared_ptr<TopographicLossImpl>;

// The loss options.kind() names; nullptr for kNone.
TopographicLoss make_topographic_loss(const TopographicLossOptions& options);

// Row-normalises x [N, D] → x / max(‖x‖, 1e-12) (as torch's F.normalize): zero vectors stay 0.
torch::Tensor normalize_rows(const torch::Tensor& x);

// The incoming-weight vectors of every unit of the sheet, units in (c, y, x) order:
// weight [P, C, D] (+ bias [P, C]) → [U = C·P, D (+ 1)].
torch::Tensor unit_weight_vectors(const torch::Tensor& weight, const torch::Tensor& bias);

}  // namespace nosharing
