#include "nosharing/analysis/sheet_maps.h"

#include <ATen/ATen.h>

#include "nosharing/core/error.h"

namespace nosharing {

torch::Tensor most_selective_units(const torch::Tensor& score, int64_t channels, int64_t height,
                                   int64_t width) {
  if (score.dim() != 1 || score.size(0) != channels * height * width) {
    throw_runtime("most_selective_units: expected score [{}·{}·{}], got {}", channels, height,
                  width, c10::str(score.sizes()));
  }
  // NaN scores lose against every number.
  const at::Tensor s = at::nan_to_num(score.detach().to(at::kDouble), -1e300)
                           .view({channels, height * width});
  const at::Tensor best_channel = s.argmax(0);  // [H·W]
  return (best_channel * (height * width) + at::arange(height * width, at::kLong))
      .view({height, width});
}

torch::Tensor column_unit_coordinates(int64_t channels, int64_t height, int64_t width) {
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor y = at::arange(height, f64).view({1, height, 1}).expand({channels, height, width});
  const at::Tensor x = at::arange(width, f64).view({1, 1, width}).expand({channels, height, width});
  return at::stack({y.reshape(-1), x.reshape(-1)}, 1);
}

torch::Tensor gather_map(const torch::Tensor& values, const torch::Tensor& grid) {
  if (values.dim() != 1 || grid.dim() != 2) {
    throw_runtime("gather_map: expected values [U] and grid [H, W], got {} and {}",
                  c10::str(values.sizes()), c10::str(grid.sizes()));
  }
  return values.index_select(0, grid.reshape(-1).to(at::kLong)).view(grid.sizes());
}

}  // namespace nosharing
