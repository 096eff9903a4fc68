// From unit values to grid pictures (DESIGN §5, "column layout"): the small adapter between
// a layer's units, in the order of `output.flatten(1)` (unit u = (c·H + y)·W + x), and the
// 2-D maps that pinwheels, patches and figures need.
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace nosharing {

// Column layout: per position, the unit of the channel with the largest `score` (e.g. the
// most selective one), as int64 [H, W] unit indices. score [C·H·W].
torch::Tensor most_selective_units(const torch::Tensor& score, int64_t channels, int64_t height,
                                   int64_t width);

// Column layout: every unit at its position (y, x): float64 [C·H·W, 2].
torch::Tensor column_unit_coordinates(int64_t channels, int64_t height, int64_t width);

// values [U] gathered through a grid of unit indices [Hg, Wg] → [Hg, Wg] (values' dtype).
torch::Tensor gather_map(const torch::Tensor& values, const torch::Tensor& grid);

}  // namespace nosharing
