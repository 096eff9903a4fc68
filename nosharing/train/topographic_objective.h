// The topographic part of the training objective (DESIGN §4): topography.loss on every
// conv-shaped layer of an lcnet (the unshared layers, or the twin's Conv2d layers with their
// one kernel repeated at every position) — or topography.layer_losses, one loss per layer —
// each multiplied by its weight (topography.weight, < 0: the layer's loss's paper weight;
// topography.layer_weights per layer, 0 skips a layer):
//   loss = task_loss + Σ_layers weight_l · L_l.
// The trainer logs each unweighted L_l as "topo/<layer>" on "train" lines.
//
// topography.every = n (lazy regularisation, Karras et al. 2020, "Analyzing and improving the
// image quality of StyleGAN", §4.1): the losses are applied on every n-th step only
// (due(step)), weighted n times, so the mean gradient over n steps is the same for 1/n of
// their cost. Momentum spreads each n-fold kick over the following steps.
//
// topography.layer_start: a layer's loss may switch on late, once training is that far along
// (set_progress), e.g. on the last layer only after its classes have been learned, so that
// the loss organises units that already tell classes apart (issue 27, item 2).
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "nosharing/core/config.h"
#include "nosharing/models/model.h"
#include "nosharing/topography/topographic_loss.h"

namespace nosharing {

struct TopographicTermValue {
  std::string layer;    // "lc1", …
  torch::Tensor value;  // unweighted scalar loss of the layer, in the graph
  double weight = 0;
};

// The mean neighbour-kernel cosine similarity S (topography/kernel_smoothness.h) of every
// topographic layer of the model on its sheet (ModelImpl::topographic_layer), by layer name in
// order (the twin: 1); empty for models without. For `nosharing info` and RESULTS.md.
std::vector<std::pair<std::string, double>> neighbour_kernel_similarities(const ModelImpl& model);

class TopographicObjective {
 public:
  // nullptr when no layer has a loss. Throws a UsageError naming the key for a model
  // without conv-shaped layers, a layer_losses or layer_weights list of the wrong length, an
  // unknown loss or a negative weight.
  // Turns on the model's response recording when the loss needs responses.
  static std::unique_ptr<TopographicObjective> from_config(const Config& config, ModelImpl& model);

  // Whether the losses apply at the step after `steps_taken` steps (topography.every).
  bool due(int64_t steps_taken) const { return steps_taken % every_ == 0; }
  int64_t every() const { return every_; }

  // How far training is, in [0, 1] (the trainer's schedule progress): layer l's loss is on
  // once it reaches topography.layer_start[l]. 0 until set.
  void set_progress(double progress) { progress_ = progress; }
  // Whether layer `index` has a loss that is on at the current progress.
  bool active(size_t index) const { return weights_[index] != 0 && progress_ >= starts_[index]; }

  // On due steps, after the model's forward on the training batch: the weighted sum
  // Σ every·weight_l·L_l
  // (a scalar in the graph; every = topography.every) over the layers whose loss goes
  // through autograd, and each of
  // their unweighted values in `terms` if given. The layers whose loss adds its gradient in
  // place (adds_in_place) are left to add_weight_gradients.
  torch::Tensor compute(std::vector<TopographicTermValue>* terms = nullptr);

  // Call after the backward of compute's sum (and, in distributed training, after the
  // gradient allreduce: the weights, so these gradients, are the same on every rank): adds
  // every·weight_l·∂L_l/∂θ of the in-place layers into their parameters' .grad (zeros first
  // where the backward left none), appends their unweighted values to `terms` if given, and
  // returns Σ every·weight_l·L_l over them (0 when there are none).
  double add_weight_gradients(std::vector<TopographicTermValue>* terms = nullptr);

  // Whether layer `index`'s loss adds its gradient in place: a loss of the weights alone
  // (TopographicLossImpl::adds_gradients) on an unshared layer whose parameters train. The
  // twin's kernel, expanded over positions, goes through autograd.
  bool adds_in_place(size_t index) const;

  // Layer names with a non-zero weight, in order, and their weights.
  std::vector<std::pair<std::string, double>> layer_weights() const;
  // The loss of each layer in order (kNone where a layer has none or weight 0).
  std::vector<TopographicLossKind> layer_kinds() const;

 private:
  TopographicObjective(std::vector<TopographicLossKind> kinds,
                       std::vector<TopographicLoss> losses, ModelImpl& model,
                       std::vector<double> weights, std::vector<double> starts, int64_t every);
  std::vector<TopographicLossKind> kinds_;  // one per layer
  std::vector<TopographicLoss> losses_;     // one per layer (null: none); one instance per kind
  ModelImpl& model_;
  std::vector<double> weights_;  // one per layer (0: skipped)
  std::vector<double> starts_;   // one per layer: topography.layer_start (0: from the start)
  double progress_ = 0;
  int64_t every_ = 1;            // topography.every
};

}  // namespace nosharing
