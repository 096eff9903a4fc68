// The responses of a trained lcnet's layers to a set of images — the stimuli of a
// model–brain or model–model comparison (`nosharing activations`, then `nosharing rsa`).
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "nosharing/data/loader.h"
#include "nosharing/data/npz.h"
#include "nosharing/models/lcnet.h"
#include "nosharing/models/model.h"

namespace nosharing {

// uint8 images [N, C, S, S] (as decode_images gives them) → the model's input, float32
// [N, shape.channels, S, S] normalised as in training. Grey images (C = 1) for a colour model
// are repeated over its 3 channels; colour images for a grey model are refused (RuntimeError
// naming both counts: convert them first, the model never saw colour). S must be the model's
// input height and width.
torch::Tensor stimulus_inputs(const torch::Tensor& images, const InputShape& shape,
                              const Normalization& normalization);

// Each named layer's activations after its norm and ReLU (what the next layer sees), float64
// [N, C, H_out, W_out], in the order of `layers`; the network in eval mode, `batch` images at a
// time. RuntimeError naming an unknown layer and the layers there are.
NamedArrays lcnet_stimulus_activations(const LcNetImpl& net, const torch::Tensor& inputs,
                                       const std::vector<std::string>& layers,
                                       int64_t batch = 64);

}  // namespace nosharing
