// Evaluation over a loader: a classifier's mean cross-entropy and accuracy, or the mean
// objective of a model with its own (ModelImpl::has_own_objective; no accuracy).
#pragma once

#include <cstdint>

#include "nosharing/data/loader.h"
#include "nosharing/models/model.h"

namespace nosharing {

struct EvalResult {
  double loss = 0;      // mean cross-entropy (no label smoothing), or mean own objective
  double accuracy = 0;  // fraction in [0, 1]; 0 and has_accuracy = false for a model with
                        // its own objective (unlabelled: written as null)
  bool has_accuracy = true;
  int64_t n = 0;        // images evaluated
};

// Runs `model` in eval mode without gradients over one pass of `loader` (epoch 0), then
// restores the model's previous training mode.
EvalResult evaluate(ModelImpl& model, BatchLoader& loader);

}  // namespace nosharing
