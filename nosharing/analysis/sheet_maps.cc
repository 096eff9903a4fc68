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
  const at::Tensor s =
      at::nan_to_num(score.detach().to(at::kDouble), -1e300).view({channels, height * width});
  const at::Tensor best_channel = s.argmax(0);  // [H·W]
  return (best_channel * (height * width) + at::arange(height * width, at::kLong))
      .view({height, width});
}

torch::Tensor map_grid(const Sheet& sheet, const torch::Tensor& score) {
  const SheetOptions& o = sheet.options();
  if (o.layout() == SheetLayout::kHypercolumn) return sheet.grids()[0];
  return most_selective_units(score, o.channels(), o.height(), o.width());
}

double map_cell_size(const Sheet& sheet) {
  const SheetOptions& o = sheet.options();
  if (o.layout() != SheetLayout::kRetinotopic || !(o.extent() > 0)) return 1.0;
  return o.extent() / static_cast<double>(std::max(o.height(), o.width()));
}

torch::Tensor gather_map(const torch::Tensor& values, const torch::Tensor& grid) {
  if (values.dim() != 1 || grid.dim() != 2) {
    throw_runtime("gather_map: expected values [U] and grid [H, W], got {} and {}",
                  c10::str(values.sizes()), c10::str(grid.sizes()));
  }
  return values.index_select(0, grid.reshape(-1).to(at::kLong)).view(grid.sizes());
}

}  // namespace nosharing
