// The options of local InfoNCE (infonce.h), and their topography.* keys. One reader and one
// check serve both users: the lcnet topographic loss and the Mapformer's auxiliary loss.
#pragma once

#include <torch/arg.h>

#include <cstdint>

#include "nosharing/core/config.h"

namespace nosharing {

struct InfoNceLossOptions {
  // Reads topography.anchors / negatives / sigma / tau; a bad value is a UsageError naming
  // the key and the value.
  static InfoNceLossOptions from_config(const Config& config);

  // Anchor columns and negative columns drawn per step and layer (cost control).
  TORCH_ARG(int64_t, anchors) = 256;
  TORCH_ARG(int64_t, negatives) = 256;
  // Neighbour kernel width (grid units) and temperature.
  TORCH_ARG(double, sigma) = 2.0;
  TORCH_ARG(double, tau) = 0.1;
};

// The checks of from_config, for options made in code (a UsageError naming the key).
void check_infonce_options(const InfoNceLossOptions& options);

}  // namespace nosharing
