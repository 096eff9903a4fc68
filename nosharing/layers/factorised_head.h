// Factorised per-class head (DESIGN §2, the Mapformer of seed 000): the logit of class c
// reads the grid of columns x [B, L, D] through a spatial pooling map u_c ∈ R^L and a
// feature direction v_c ∈ R^D,
//   y_bc = Σ_i u_ci (v_c · x_bi) + b_c,
// i.e. a dense linear head whose weight for class c, an [L, D] matrix, has rank one:
// u_c ⊗ v_c. It needs C·(L + D + 1) parameters instead of C·(L·D + 1), and u_c is a map over
// the grid that can be drawn as a picture (where the model looks for class c).
//
// Initialisation (ours): u_ci = 1/L (every class starts as mean pooling over the grid, the
// usual global-average-pool head), v_c ~ U(−1/√D, 1/√D) as a torch::nn::Linear of fan-in D,
// b = 0. The classes differ through v from the start, so their maps u_c get different
// gradients and need no random start.
#pragma once

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <ostream>

namespace nosharing {

struct FactorisedHeadOptions {
  FactorisedHeadOptions(int64_t columns, int64_t dim, int64_t classes);

  TORCH_ARG(int64_t, columns);  // L
  TORCH_ARG(int64_t, dim);      // D
  TORCH_ARG(int64_t, classes);  // C
};

// The definition the module runs: x [B, L, D], u [C, L], v [C, D], b [C] or undefined →
// logits [B, C]. Computed as (x·vᵀ) [B, L, C] weighted by uᵀ and summed over L.
torch::Tensor factorised_head(const torch::Tensor& x, const torch::Tensor& u,
                              const torch::Tensor& v, const torch::Tensor& b);

class FactorisedHeadImpl : public torch::nn::Cloneable<FactorisedHeadImpl> {
 public:
  FactorisedHeadImpl(int64_t columns, int64_t dim, int64_t classes)
      : FactorisedHeadImpl(FactorisedHeadOptions(columns, dim, classes)) {}
  explicit FactorisedHeadImpl(FactorisedHeadOptions options);

  void reset() override;
  void reset_parameters();

  // x [B, L, D] → logits [B, C].
  torch::Tensor forward(const torch::Tensor& x);

  // The equivalent dense weight [C, L·D] (row c = u_c ⊗ v_c flattened as (i, d)), for
  // comparisons with a plain linear head.
  torch::Tensor dense_weight() const;

  void pretty_print(std::ostream& stream) const override;

  FactorisedHeadOptions options;
  torch::Tensor u;     // [C, L] spatial pooling maps
  torch::Tensor v;     // [C, D] feature directions
  torch::Tensor bias;  // [C]
};

TORCH_MODULE(FactorisedHead);

}  // namespace nosharing
