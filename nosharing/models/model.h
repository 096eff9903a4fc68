// The interface every model implements, and the registry that builds one from a config.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/modules/conv.h>

#include "nosharing/core/config.h"
#include "nosharing/layers/locally_connected.h"
#include "nosharing/topography/topographic_loss.h"

namespace nosharing {

struct InputShape {
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;
};

// The objective of a model trained on its own loss rather than on labels (an unlabelled,
// self-supervised model such as `wlsc`, whose loss is its sparse-coding reconstruction
// objective). Every tensor is a scalar averaged over the batch.
struct ModelObjective {
  torch::Tensor total;  // what the optimiser minimises ("loss" in metrics lines)
  torch::Tensor task;   // the model's main term ("task_loss")
  // Further named terms, each written under its own key in "train" lines.
  std::vector<std::pair<std::string, torch::Tensor>> terms;
};

// One extra term of a classifier's training loss that the model computes from its last
// training forward pass (the Mapformer's per-block wiring cost and local InfoNCE):
//   loss = cross-entropy + Σ weight · value,
// each unweighted value logged as "aux/<name>" on "train" lines.
struct AuxiliaryLoss {
  std::string name;     // "wiring", "infonce", …
  torch::Tensor value;  // scalar, unweighted, in the autograd graph of the last forward
  double weight = 0;
};

class ModelImpl : public torch::nn::Module {
 public:
  // images: float [B, C, H, W] → logits [B, num_classes] (a classifier), or the model's
  // representation (wlsc: codes [B, N]) for a model with its own objective.
  virtual torch::Tensor forward(torch::Tensor images) = 0;

  // The extension point for unlabelled models: true if the model is trained and evaluated
  // on own_objective() instead of cross-entropy against labels (it then has no accuracy).
  virtual bool has_own_objective() const { return false; }
  // images [B, C, H, W] → the objective; only called when has_own_objective().
  virtual ModelObjective own_objective(const torch::Tensor& images);

  // The extension point for auxiliary losses of a classifier: called by the training
  // objective right after forward() on the training batch (in training mode); terms with a
  // zero weight are left out. Default: none.
  virtual std::vector<AuxiliaryLoss> auxiliary_losses() { return {}; }

  // The model's locally connected layers by name, in forward order: what sleep phases
  // share (sharing/dynamic_sharing.h) and weight SNR measures. Default: none.
  virtual std::vector<std::pair<std::string, LocallyConnected2d>> unshared_layers() const {
    return {};
  }
  // Its weight-shared conv-shaped layers (a twin's Conv2d) by name, in forward order.
  virtual std::vector<std::pair<std::string, torch::nn::Conv2d>> conv_layers() const {
    return {};
  }

  // Capabilities: what a model offers the losses and measures, so that they ask instead of
  // casting to a model type.

  // The layers the topographic losses (topography.*, train/topographic_objective.h) act on,
  // in order. Default: none (topography.* is refused for the model).
  virtual size_t topographic_layer_count() const { return 0; }
  // Layer `index` as the losses see it (TopographicLayer: name, sheet, kernel, stride,
  // weights [P, C, D] and bias — a shared layer's one kernel as a view expanded over the
  // positions, so not a leaf — and, with `with_responses`, the output recorded by the last
  // forward, which must then exist).
  virtual TopographicLayer topographic_layer(size_t index, bool with_responses) const;
  // When on, training forwards keep the topographic layers' outputs for the losses on
  // responses. Default: nothing to record.
  virtual void record_responses(bool on) {}

  // The weights weight SNR measures over positions (sharing/weight_snr.h), by name in forward
  // order, positions first ([P, …]); an undefined tensor for a weight-shared layer, whose
  // SNR is the cap. Default: the unshared layers, then the conv layers.
  virtual std::vector<std::pair<std::string, torch::Tensor>> weight_snr_layers() const;
};
using Model = std::shared_ptr<ModelImpl>;

// TORCH_CHECK that images are [B, C, H, W] of `input`'s C, H, W, naming the model ("lcnet:
// expected images [B, 3, 32, 32], got [8, 1, 28, 28]"). Conv2d twins accept any size and
// would fail later with a less helpful message.
void check_input_images(const torch::Tensor& images, const InputShape& input, const char* model);

// Builds the model the config describes (model.type, model.sharing, model.lc_init, …) for
// inputs of `input` shape and `num_classes` classes. Impossible shapes (kernel larger than
// the padded input, stride 0, empty channel lists) are UsageErrors naming the key and value.
Model build_model(const Config& config, const InputShape& input, int64_t num_classes);

// Sets the unshared `net` to compute what its `twin` (model.sharing = conv, same options
// otherwise; lcnet or resnet) computes: every position gets the twin's kernel and bias, every
// other parameter (norms, fully connected layers) is copied by name. No autograd. The
// invariance tests start here; it is also how an unshared net starts from a trained convnet.
void tie_to_twin(ModelImpl& net, const ModelImpl& twin);

// model.lc_init = shared: every unshared layer's kernels and biases become its first
// position's (one draw of the layer's initialisation, repeated), so the net starts as its twin.
void share_initial_kernels(ModelImpl& net);

// Named presets (DESIGN §2): TOML text that sits between the defaults and the user's
// config. preset_toml throws a UsageError listing the names for an unknown one.
std::vector<std::string> preset_names();
std::optional<std::string> preset_toml(const std::string& name);

}  // namespace nosharing
