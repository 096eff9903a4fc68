// Evaluation of a classifier over a loader: mean cross-entropy and accuracy.
#pragma once

#include <cstdint>

#include "nosharing/data/loader.h"
#include "nosharing/models/model.h"

namespace nosharing {

struct EvalResult {
  double loss = 0;      // mean cross-entropy (no label smoothing)
  double accuracy = 0;  // fraction in [0, 1]
  int64_t n = 0;        // images evaluated
};

// Runs `model` in eval mode without gradients over one pass of `loader` (epoch 0), then
// restores the model's previous training mode.
EvalResult evaluate(ModelImpl& model, BatchLoader& loader);

}  // namespace nosharing
