// All-TNN's measures of how orientation preferences cluster on a map (Lu et al. 2023), on a
// grid map θ [H, W] (radians mod π; NaN = no unit). Preferences fall into 8 bins of 22.5°.
//
// - Cluster size: per cell, the smallest radius r (grid cells) such that the cells within r
//   (the disc cut by the map's border) hold all 8 orientation bins; the mean over up to
//   `samples` cells drawn with the seed (cells that never see all 8 are left out). A
//   salt-and-pepper map needs r ≈ 2; vertical stripes of width w cycling through the 8 bins
//   need exactly 3w + 1.
// - Local entropy: the Shannon entropy (bits, at most 3) of the 8-bin histogram in each
//   non-overlapping `window`×`window` tile (tiles with fewer than half their cells valid are
//   skipped), averaged over tiles: 0 for a uniform map, 3 when every tile holds every bin
//   equally.
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace nosharing {

struct ClusterOptions {
  int64_t orientation_bins = 8;
  int64_t samples = 1000;
  int64_t window = 8;
  uint64_t seed = 0;
};

// Mean radius in grid cells; NaN when no sampled cell sees every bin.
double orientation_cluster_size(const torch::Tensor& theta, const ClusterOptions& options = {});

// Mean entropy in bits; NaN when no tile qualifies.
double local_orientation_entropy(const torch::Tensor& theta, const ClusterOptions& options = {});

}  // namespace nosharing
