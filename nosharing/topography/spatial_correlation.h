// Spatial correlation loss (TDANN, Margalit et al. 2024, DESIGN §4): units close on the sheet
// should respond alike, with response correlation falling off as 1/(d + 1). Per step and
// layer, sample a neighbourhood of at most `units` (500) units within `radius` of a random
// centre (Sheet::sample_neighbourhood); over the batch,
//   r_ij = Pearson correlation of the responses of units i and j,
//   s_ij = 1 / (d_ij + 1),  d the sheet distance,
//   L = (1 − corr(lower(r), lower(s))) / 2,
// lower(·) the strictly lower triangle and corr the Pearson correlation of the two vectors.
// L ∈ [0, 1], 0 when r is an increasing affine function of s. `neighbourhoods` > 1 averages
// L over that many independent neighbourhoods. Paper weight 0.25 per layer.
//
// Degenerate cases: a unit whose response is constant over the batch has r = 0 with every
// other unit (no NaN: ε in the norms); a neighbourhood whose distances are all equal (one
// point of the column layout) gives corr = 0, L = ½, and no gradient.
#pragma once

#include <torch/nn/pimpl.h>

#include "nosharing/topography/topographic_loss.h"

namespace nosharing {

struct SpatialCorrelationLossOptions {
  TORCH_ARG(double, radius) = 3.0;
  TORCH_ARG(int64_t, units) = 500;
  TORCH_ARG(int64_t, neighbourhoods) = 1;
};

// L above for given units: responses [B, N] (batch × units), distances [N, N] → scalar.
// The core of the loss, exposed for tests.
torch::Tensor spatial_correlation_loss(const torch::Tensor& responses,
                                       const torch::Tensor& distances);
// The same L by gathering the N(N−1)/2 lower-triangle pairs, as written above: the check of
// spatial_correlation_loss, which masks the diagonal instead (spatial_correlation_test.cc).
torch::Tensor spatial_correlation_loss_reference(const torch::Tensor& responses,
                                                 const torch::Tensor& distances);

class SpatialCorrelationLossImpl : public TopographicLossImpl {
 public:
  explicit SpatialCorrelationLossImpl(SpatialCorrelationLossOptions options = {});
  bool needs_responses() const override { return true; }
  torch::Tensor forward(const TopographicLayer& layer) override;

 private:
  SpatialCorrelationLossOptions options_;
};
TORCH_MODULE(SpatialCorrelationLoss);

}  // namespace nosharing
