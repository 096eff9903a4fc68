// Local InfoNCE (infonce.h defines it) as one autograd function with a hand-written backward.
// The loss runs on every layer at every step on a few hundred sampled columns, so LibTorch's
// per-op cost (some 90 small ops and their autograd nodes per layer) dominated it; here the
// anchor × negative logits and their two backward products stay GEMMs, and everything else
// (gathers, normalisations, the anchors' neighbour mixtures, log-sum-exp, the scatter back)
// is a loop over the sampled rows. The plain LibTorch form is
// infonce_loss_reference (infonce.h), which the tests hold this to.
#pragma once

#include <torch/types.h>

#include <memory>

#include "nosharing/layers/response_tap.h"

namespace nosharing {

// L of infonce.h: columns [B, P, C] (any layout; the gradient comes back in the same strides
// when the layout is a permutation of a contiguous one — a layer's [B, C, H, W] seen as
// [B, P, C] stays NCHW), weights [P, P], anchors int64 [A] (distinct) and negatives int64 [N]
// indexing the B·P columns (b·P + p), temperature tau > 0. float32 or float64 on the CPU;
// differentiable in columns (first order). With a `sink` the columns must be
// responses.flatten(2).transpose(1, 2) of responses tapped with it (layers/response_tap.h):
// their gradient is then added into the tap's in place and none goes back through columns.
torch::Tensor infonce_loss_fused(const torch::Tensor& columns, const torch::Tensor& weights,
                                 const torch::Tensor& anchors, const torch::Tensor& negatives,
                                 double tau, std::shared_ptr<ResponseGradientSink> sink = nullptr);

}  // namespace nosharing
