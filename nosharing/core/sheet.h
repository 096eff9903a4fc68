// Sheet geometry (DESIGN §1): where the units of one unshared layer sit on a 2-D cortical
// sheet. A layer's output [B, C, H_out, W_out] has U = C·H_out·W_out units; unit u is
// (c, y, x) in row-major order, u = (c·H_out + y)·W_out + x, i.e. the order of
// `output.flatten(1)`.
//
// Layouts (`model.layout`):
// - column: unit (c, y, x) sits at its position (y, x); all C channels share the point.
//   Distances are in grid units (positions).
// - hypercolumn (All-TNN, Lu et al.): the C channels of a position are tiled as a
//   √C×√C block (channel c at row c / √C, column c mod √C of the block), so the sheet has
//   (H_out·√C)×(W_out·√C) cells of side 1; C must be a square.
// - retinotopic (TDANN, Margalit et al. 2024): position (y, x) owns the square tile
//   [y·t, (y+1)·t) × [x·t, (x+1)·t) of a physical sheet whose longer side is `extent`
//   (t = extent / max(H_out, W_out)); each channel sits at the tile centre plus a uniform
//   offset of up to ±jitter·t/2 per axis, drawn once from the seed (jitter 1 fills the tile).
//
// Everything here is O(U) or O(N²) for a sampled neighbourhood of N units: no function builds
// a U×U matrix, which for ott-cifar's first layer (U = 16 384) would be 1 GB in float32.
#pragma once

#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nosharing {

enum class SheetLayout { kColumn, kHypercolumn, kRetinotopic };

// "column" | "hypercolumn" | "retinotopic"; otherwise a UsageError naming `key`.
SheetLayout parse_sheet_layout(const std::string& value, const std::string& key);
std::string sheet_layout_name(SheetLayout layout);

struct SheetOptions {
  SheetOptions(int64_t channels, int64_t height, int64_t width);

  TORCH_ARG(int64_t, channels);
  TORCH_ARG(int64_t, height);  // H_out
  TORCH_ARG(int64_t, width);   // W_out
  TORCH_ARG(SheetLayout, layout) = SheetLayout::kColumn;
  // retinotopic: side of the sheet's longer axis in physical units (e.g. mm); 0: the longer
  // grid side, so that one tile has side 1.
  TORCH_ARG(double, extent) = 0.0;
  // retinotopic: channel offsets inside a tile, as a fraction of the tile side (in [0, 1]).
  TORCH_ARG(double, jitter) = 1.0;
  // retinotopic: seed of the channel offsets (the same seed gives the same sheet).
  TORCH_ARG(uint64_t, seed) = 0;
};

class Sheet {
 public:
  // Throws a UsageError for non-positive sizes, a non-square C in the hypercolumn layout or
  // a jitter outside [0, 1].
  explicit Sheet(SheetOptions options);

  const SheetOptions& options() const { return options_; }
  int64_t num_units() const { return coordinates_.size(0); }
  int64_t num_positions() const { return options_.height() * options_.width(); }

  // Coordinates (y, x) of every unit: float64 [U, 2], units in (c, y, x) order.
  const torch::Tensor& coordinates() const { return coordinates_; }
  // Coordinates of the given units: units int64 [N] → float64 [N, 2].
  torch::Tensor coordinates(const torch::Tensor& units) const;

  // Unit indices arranged as the grids on which "down" and "right" neighbours are defined,
  // int64 [G, H_g, W_g]: hypercolumn → one grid [1, H_out·√C, W_out·√C] (the sheet itself);
  // column and retinotopic → one grid per channel [C, H_out, W_out] (a channel's neighbour
  // is the same channel at the adjacent position: all units of a column share one point,
  // and retinotopic jitter stays inside the tile).
  torch::Tensor grids() const;

  // The units within `radius` (Euclidean, sheet units) of a centre unit drawn uniformly with
  // LibTorch's global generator, the centre first; if more than `max_units`, a uniform random
  // subset of them (centre kept). Returns int64 [N], 1 ≤ N ≤ max_units.
  torch::Tensor sample_neighbourhood(double radius, int64_t max_units) const;

  // Pairwise Euclidean distances of a neighbourhood: units int64 [N] → float64 [N, N].
  // Refuses N > kMaxPairwiseUnits (use sample_neighbourhood on large sheets).
  torch::Tensor distances(const torch::Tensor& units) const;
  static constexpr int64_t kMaxPairwiseUnits = 8192;

 private:
  SheetOptions options_;
  torch::Tensor coordinates_;  // float64 [U, 2]
};

// Grid coordinates (y, x) of the positions of an H×W layer, row-major: float64 [H·W, 2].
// Column-level losses (InfoNCE, wiring) measure distances between positions with these.
torch::Tensor position_coordinates(int64_t height, int64_t width);

// Pairwise Euclidean distances between two sets of points: a [N, 2], b [M, 2] → [N, M]
// (same dtype as a).
torch::Tensor pairwise_distances(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace nosharing
