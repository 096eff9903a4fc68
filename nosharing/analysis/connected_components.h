// Connected regions of a boolean grid, used for pinwheel blobs and category patches.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace nosharing {

struct Component {
  int64_t area = 0;                       // cells
  double centroid_y = 0, centroid_x = 0;  // mean cell coordinates
};

struct Components {
  torch::Tensor labels;  // int64 [H, W]: 0 outside, 1 … count inside, in scan order
  std::vector<Component> components;
};

// mask bool [H, W]; 4-connected (edges) or 8-connected (edges and corners).
Components connected_components(const torch::Tensor& mask, bool eight_connected);

}  // namespace nosharing
