// From unit values to grid pictures (DESIGN §5, "column layout"): the small adapter between
// a layer's units, in the order of `output.flatten(1)` (unit u = (c·H + y)·W + x) placed by
// core/sheet.h, and the 2-D maps that pinwheels, patches and figures need.
#pragma once

#include <torch/types.h>

#include <cstdint>

#include "nosharing/core/sheet.h"

namespace nosharing {

// Column layout: per position, the unit of the channel with the largest `score` (e.g. the
// most selective one), as int64 [H, W] unit indices. score [C·H·W].
torch::Tensor most_selective_units(const torch::Tensor& score, int64_t channels, int64_t height,
                                   int64_t width);

// The grid a map of `sheet` is drawn on, as int64 [Hg, Wg] unit indices: hypercolumn → the
// sheet itself (every unit one cell); column and retinotopic → one cell per position showing
// the unit of its channel with the largest `score` [U].
torch::Tensor map_grid(const Sheet& sheet, const torch::Tensor& score);

// Sheet units per cell of map_grid's grid: 1 for column and hypercolumn sheets, the tile side
// (extent / max(H_out, W_out)) for retinotopic ones.
double map_cell_size(const Sheet& sheet);

// values [U] gathered through a grid of unit indices [Hg, Wg] → [Hg, Wg] (values' dtype).
torch::Tensor gather_map(const torch::Tensor& values, const torch::Tensor& grid);

}  // namespace nosharing
