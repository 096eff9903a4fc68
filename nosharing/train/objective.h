// The loss of one training batch, for both kinds of model: a classifier's cross-entropy
// against the labels, or — for a model with its own objective (ModelImpl::
// has_own_objective, e.g. the unlabelled `wlsc`) — that objective, labels unused.
#pragma once

#include "nosharing/data/loader.h"
#include "nosharing/models/model.h"

namespace nosharing {

// Classifier: task = cross-entropy (with `label_smoothing`); total = task + Σ weight · value
// over the model's auxiliary_losses(), each value a term "aux/<name>".
ModelObjective batch_objective(ModelImpl& model, const Batch& batch, double label_smoothing);

}  // namespace nosharing
