#include "nosharing/analysis/stimulus_activations.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>

#include "nosharing/analysis/layer_activations.h"
#include "nosharing/core/error.h"
#include "nosharing/data/transforms.h"

namespace nosharing {

torch::Tensor stimulus_inputs(const torch::Tensor& images, const InputShape& shape,
                              const Normalization& normalization) {
  if (images.dim() != 4 || images.scalar_type() != at::kByte) {
    throw_runtime("stimuli: expected uint8 images [N, C, H, W], got {} {}",
                  c10::toString(images.scalar_type()), c10::str(images.sizes()));
  }
  if (images.size(2) != shape.height || images.size(3) != shape.width) {
    throw_runtime("stimuli: images are {}×{}, the model takes {}×{}", images.size(2),
                  images.size(3), shape.height, shape.width);
  }
  torch::Tensor pixels = images;
  if (images.size(1) == 1 && shape.channels == 3) {
    pixels = images.expand({images.size(0), 3, images.size(2), images.size(3)}).contiguous();
  } else if (images.size(1) != shape.channels) {
    throw_runtime("stimuli: the images have {} channels, the model was trained on {} ({}); "
                  "convert them first",
                  images.size(1), shape.channels, shape.channels == 1 ? "greyscale" : "colour");
  }
  return normalize_images(pixels, normalization.mean, normalization.std);
}

NamedArrays lcnet_stimulus_activations(const LcNetImpl& net, const torch::Tensor& inputs,
                                       const std::vector<std::string>& layers, int64_t batch) {
  std::map<std::string, int64_t> depth;  // layer name → how many layers to run to reach it
  std::vector<std::string> names;
  for (const auto& spec : net.layer_specs()) {
    names.push_back(spec.name);
    depth[spec.name] = static_cast<int64_t>(names.size());
  }
  int64_t needed = 0;
  for (const std::string& layer : layers) {
    const auto it = depth.find(layer);
    if (it == depth.end()) {
      throw_runtime("--layers: no layer '{}' in this model (its layers: {})", layer,
                    fmt::join(names, ", "));
    }
    needed = std::max(needed, it->second);
  }
  std::vector<std::vector<torch::Tensor>> parts(layers.size());
  torch::NoGradGuard no_grad;
  for (int64_t start = 0; start < inputs.size(0); start += batch) {
    const int64_t end = std::min(start + batch, inputs.size(0));
    const auto activations = lcnet_activations(net, inputs.slice(0, start, end), needed);
    for (size_t l = 0; l < layers.size(); ++l) {
      parts[l].push_back(activations[depth.at(layers[l]) - 1].post.to(at::kDouble).contiguous());
    }
  }
  NamedArrays out;
  for (size_t l = 0; l < layers.size(); ++l) out.emplace_back(layers[l], at::cat(parts[l], 0));
  return out;
}

}  // namespace nosharing
