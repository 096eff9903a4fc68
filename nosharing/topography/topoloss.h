// TopoLoss (Deb et al. 2025, DESIGN §4): the sheet G of incoming-weight vectors (no bias)
// should equal its own blurred version. With Ĝ = upsample(downsample(G, 1/f)) — bilinear both
// ways, the down-sampled grid max(1, ⌊H_g/f⌋) × max(1, ⌊W_g/f⌋), the up-sampled back to
// H_g × W_g, align_corners = false —
//   L = 1 − mean_u cos(G_u, Ĝ_u),
// over the grids of Sheet::grids() (the hypercolumn sheet; per channel in the column and
// retinotopic layouts). The published code computes the down-sampled size as ⌊H·1/f⌋ and
// crashes when a sheet is smaller than f (size 0); here such an axis is down-sampled to one
// cell, so Ĝ is constant along it (a 1×1 sheet gives Ĝ = G and L = 0).
// The package's example uses f = 3 and scale (weight) 1.
#pragma once

#include <torch/nn/pimpl.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "nosharing/topography/cpu/topoloss_function.h"
#include "nosharing/topography/topographic_loss.h"

namespace nosharing {

struct TopoLossOptions {
  TORCH_ARG(double, factor) = 3.0;
};

// Ĝ above: grids [G, D, H, W] → blurred [G, D, H, W].
torch::Tensor topoloss_blur(const torch::Tensor& grids, double factor);

// L above in plain LibTorch ops (gather to the grids, topoloss_blur, normalise): the check of
// the fused blurred_cosine that TopoLoss uses (topoloss_test.cc).
torch::Tensor topoloss_reference(const TopographicLayer& layer, double factor);

class TopoLossImpl : public TopographicLossImpl {
 public:
  explicit TopoLossImpl(TopoLossOptions options = {});
  bool needs_responses() const override { return false; }
  torch::Tensor forward(const TopographicLayer& layer) override;
  bool adds_gradients() const override { return true; }
  double add_gradients(const TopographicLayer& layer, double scale,
                       const torch::Tensor& grad_weight, const torch::Tensor& grad_bias) override;

 private:
  const std::shared_ptr<const BlurredCosineGeometry>& geometry_of(const TopographicLayer& layer);
  TopoLossOptions options_;
  // Geometry per layer (name, positions, channels).
  std::map<std::tuple<std::string, int64_t, int64_t>, std::shared_ptr<const BlurredCosineGeometry>>
      geometries_;
};
TORCH_MODULE(TopoLoss);

}  // namespace nosharing
