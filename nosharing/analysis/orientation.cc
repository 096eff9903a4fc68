#include "nosharing/analysis/orientation.h"

#include <ATen/ATen.h>

#include <cmath>

#include "nosharing/core/error.h"

namespace nosharing {

torch::Tensor orientation_tuning(const torch::Tensor& responses, const torch::Tensor& orientation,
                                 int64_t num_orientations) {
  if (responses.dim() != 2 || orientation.dim() != 1 || orientation.size(0) != responses.size(0)) {
    throw_runtime(
        "orientation_tuning: expected responses [S, U] and orientation [S], got {} and {}",
        c10::str(responses.sizes()), c10::str(orientation.sizes()));
  }
  const at::Tensor r = responses.detach().to(at::kDouble).clamp_min(0);
  const at::Tensor index = orientation.to(at::kLong);
  at::Tensor tuning = at::zeros({num_orientations, r.size(1)}, r.options());
  for (int64_t o = 0; o < num_orientations; ++o) {
    const at::Tensor rows = (index == o).nonzero().view(-1);
    if (rows.numel() == 0) throw_runtime("orientation_tuning: no stimulus of orientation {}", o);
    tuning[o] = r.index_select(0, rows).amax(0);
  }
  return tuning;
}

OrientationPreference orientation_preference(const torch::Tensor& tuning,
                                             const torch::Tensor& angles) {
  if (tuning.dim() != 2 || angles.dim() != 1 || angles.size(0) != tuning.size(0)) {
    throw_runtime("orientation_preference: expected tuning [O, U] and angles [O], got {} and {}",
                  c10::str(tuning.sizes()), c10::str(angles.sizes()));
  }
  const at::Tensor r = tuning.detach().to(at::kDouble).clamp_min(0);
  const at::Tensor doubled = 2 * angles.to(at::kDouble).view({-1, 1});
  const at::Tensor total = r.sum(0);
  // Silent units: 0/0 → selectivity 0 (R = 0).
  const at::Tensor safe = at::where(total > 0, total, at::ones_like(total));
  const at::Tensor re = (r * at::cos(doubled)).sum(0) / safe;
  const at::Tensor im = (r * at::sin(doubled)).sum(0) / safe;
  OrientationPreference out;
  out.selectivity = at::sqrt(re * re + im * im).clamp_max(1.0);
  // atan2 ∈ (−π, π] → halved and wrapped into [0, π).
  out.preferred = at::remainder(at::atan2(im, re) / 2, M_PI);
  out.preferred = at::where(out.preferred >= M_PI, out.preferred - M_PI, out.preferred);
  return out;
}

torch::Tensor orientation_difference(const torch::Tensor& a, const torch::Tensor& b) {
  const at::Tensor d = at::remainder((a - b).to(at::kDouble), M_PI);  // [0, π)
  return at::minimum(d, M_PI - d);
}

}  // namespace nosharing
