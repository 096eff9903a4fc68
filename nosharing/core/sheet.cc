#include "nosharing/core/sheet.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "nosharing/core/enum_names.h"
#include "nosharing/core/error.h"

namespace nosharing {
namespace {

const torch::TensorOptions kDouble = torch::TensorOptions().dtype(torch::kFloat64);
const torch::TensorOptions kLong = torch::TensorOptions().dtype(torch::kInt64);

int64_t exact_sqrt(int64_t value) {
  auto root = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(value))));
  return root * root == value ? root : -1;
}

}  // namespace

constexpr EnumName<SheetLayout> kSheetLayouts[] = {{"column", SheetLayout::kColumn},
                                                   {"hypercolumn", SheetLayout::kHypercolumn},
                                                   {"retinotopic", SheetLayout::kRetinotopic}};

SheetLayout parse_sheet_layout(const std::string& value, const std::string& key) {
  return enum_from_name(kSheetLayouts, key, value);
}

std::string sheet_layout_name(SheetLayout layout) {
  return std::string(enum_name(kSheetLayouts, layout));
}

SheetOptions::SheetOptions(int64_t channels, int64_t height, int64_t width)
    : channels_(channels), height_(height), width_(width) {}

torch::Tensor position_coordinates(int64_t height, int64_t width) {
  const torch::Tensor y = torch::arange(height, kDouble).repeat_interleave(width);
  const torch::Tensor x = torch::arange(width, kDouble).repeat({height});
  return torch::stack({y, x}, 1);
}

torch::Tensor pairwise_distances(const torch::Tensor& a, const torch::Tensor& b) {
  TORCH_CHECK(a.dim() == 2 && a.size(1) == 2 && b.dim() == 2 && b.size(1) == 2,
              "pairwise_distances: expected points [N, 2] and [M, 2], got ", a.sizes(), " and ",
              b.sizes());
  // Differences rather than the ‖a‖² + ‖b‖² − 2ab expansion: exact zeros on the diagonal.
  // Per axis, not .sum(-1) over a [N, M, 2] tensor: a reduction over an innermost size-2
  // dimension takes ATen's slow path (2 ms for 500 × 500 points, against 0.2 ms this way).
  const torch::Tensor dy = a.select(1, 0).unsqueeze(1) - b.select(1, 0).unsqueeze(0);
  const torch::Tensor dx = a.select(1, 1).unsqueeze(1) - b.select(1, 1).unsqueeze(0);
  return (dy * dy + dx * dx).sqrt();
}

Sheet::Sheet(SheetOptions options) : options_(std::move(options)) {
  const int64_t channels = options_.channels();
  const int64_t height = options_.height();
  const int64_t width = options_.width();
  if (channels < 1 || height < 1 || width < 1) {
    throw_usage("sheet of {} channels × {}×{} positions: every size must be >= 1", channels,
                height, width);
  }
  // Every layout starts from the positions, repeated for each channel: [C, P, 2].
  const torch::Tensor positions =
      position_coordinates(height, width).unsqueeze(0).expand({channels, height * width, 2});
  torch::Tensor coordinates;
  switch (options_.layout()) {
    case SheetLayout::kColumn:
      coordinates = positions;
      break;
    case SheetLayout::kHypercolumn: {
      const int64_t side = exact_sqrt(channels);
      if (side < 0) {
        throw_usage("model.layout = \"hypercolumn\": {} channels is not a square number (the "
                    "channels of a position are tiled as a √C×√C block); use e.g. 16, 36, 64, 81",
                    channels);
      }
      const torch::Tensor c = torch::arange(channels, kLong);
      const torch::Tensor offset =
          torch::stack({c.div(side, "floor"), c.remainder(side)}, 1).to(torch::kFloat64);
      coordinates = positions * static_cast<double>(side) + offset.unsqueeze(1);
      break;
    }
    case SheetLayout::kRetinotopic: {
      const double jitter = options_.jitter();
      if (!(jitter >= 0.0 && jitter <= 1.0)) {
        throw_usage("model.jitter = {}: expected a fraction of the tile side in [0, 1]", jitter);
      }
      if (!(options_.extent() >= 0.0)) {
        throw_usage("model.sheet_extent = {}: expected >= 0 (0: grid units)", options_.extent());
      }
      const double tile = options_.extent() > 0
                              ? options_.extent() / static_cast<double>(std::max(height, width))
                              : 1.0;
      auto generator = at::make_generator<at::CPUGeneratorImpl>(options_.seed());
      const torch::Tensor offsets =
          (torch::rand({channels, height * width, 2}, generator, kDouble) - 0.5) * jitter;
      coordinates = (positions + 0.5 + offsets) * tile;
      break;
    }
  }
  coordinates_ = coordinates.reshape({channels * height * width, 2}).contiguous();
}

torch::Tensor Sheet::coordinates(const torch::Tensor& units) const {
  TORCH_CHECK(units.dim() == 1 && units.scalar_type() == torch::kInt64,
              "Sheet::coordinates: expected int64 unit indices [N], got ", units.sizes(), " ",
              units.scalar_type());
  return coordinates_.index_select(0, units);
}

torch::Tensor Sheet::grids() const {
  const int64_t channels = options_.channels();
  const int64_t height = options_.height();
  const int64_t width = options_.width();
  const torch::Tensor units = torch::arange(num_units(), kLong).view({channels, height, width});
  if (options_.layout() != SheetLayout::kHypercolumn) return units;
  const int64_t side = exact_sqrt(channels);
  // [c_row, c_col, y, x] → [y, c_row, x, c_col] → sheet rows y·√C + c_row, columns x·√C + c_col.
  return units.view({side, side, height, width})
      .permute({2, 0, 3, 1})
      .reshape({1, height * side, width * side})
      .contiguous();
}

torch::Tensor Sheet::sample_neighbourhood(double radius, int64_t max_units) const {
  TORCH_CHECK(max_units >= 1, "Sheet::sample_neighbourhood: max_units ", max_units,
              "; expected >= 1");
  TORCH_CHECK(radius >= 0, "Sheet::sample_neighbourhood: radius ", radius, "; expected >= 0");
  const int64_t centre = torch::randint(num_units(), {1}, kLong).item<int64_t>();
  // One pass over the units in index order (the set the tensor expression
  // nonzero(‖c_u − c_centre‖ ≤ r) gave, and in its order, so the random subset below draws
  // the same units from the same generator state): some fifteen small LibTorch calls a
  // step cost ~1 ms on this machine, most of the spatial-correlation loss's time.
  const double* c = coordinates_.data_ptr<double>();
  const double cy = c[2 * centre], cx = c[2 * centre + 1];
  std::vector<int64_t> inside;
  for (int64_t u = 0; u < num_units(); ++u) {
    const double dy = c[2 * u] - cy, dx = c[2 * u + 1] - cx;
    // A tiny tolerance so that points exactly on the circle (integer grids) count as inside.
    if (u != centre && std::sqrt(dy * dy + dx * dx) <= radius + 1e-9) inside.push_back(u);
  }
  const auto found = static_cast<int64_t>(inside.size());
  const int64_t kept = std::min(found, max_units - 1);
  torch::Tensor out = torch::empty({1 + kept}, kLong);
  int64_t* o = out.data_ptr<int64_t>();
  o[0] = centre;
  if (found > kept) {
    const torch::Tensor order = torch::randperm(found, kLong);
    const int64_t* pick = order.data_ptr<int64_t>();
    for (int64_t i = 0; i < kept; ++i) o[1 + i] = inside[static_cast<size_t>(pick[i])];
  } else {
    std::copy(inside.begin(), inside.end(), o + 1);
  }
  return out;
}

torch::Tensor Sheet::distances(const torch::Tensor& units) const {
  TORCH_CHECK(units.dim() == 1 && units.size(0) <= kMaxPairwiseUnits,
              "Sheet::distances: ", units.size(0), " units; at most ", kMaxPairwiseUnits,
              " (sample a neighbourhood instead of building a units × units matrix)");
  const torch::Tensor points = coordinates(units);
  return pairwise_distances(points, points);
}

}  // namespace nosharing
