// The outputs of an lcnet's conv-shaped layers (locally connected, or the twin's Conv2d),
// which the analyses measure. lcnet's forward returns only logits, so this replays its layer
// sequence (layer → norm → ReLU, DESIGN §2) through the named submodules "lcK" / "lcK_norm".
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nosharing/models/lcnet.h"

namespace nosharing {

struct LayerActivation {
  std::string name;    // "lc1", …
  torch::Tensor pre;   // [B, C, H_out, W_out]: the layer's output before its norm
  torch::Tensor post;  // after the norm and the ReLU: what the next layer sees
};

// images [B, C, H, W] → the first `layers` layers' activations (all when layers < 0).
// Differentiable; uses the modules' current train/eval mode.
std::vector<LayerActivation> lcnet_activations(const LcNetImpl& net, const torch::Tensor& images,
                                               int64_t layers = -1);

}  // namespace nosharing
