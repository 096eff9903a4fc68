#include "nosharing/analysis/layer_activations.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>

#include "nosharing/core/error.h"
#include "nosharing/layers/locally_connected.h"

namespace nosharing {
namespace {

std::shared_ptr<torch::nn::Module> child(const LcNetImpl& net, const std::string& name) {
  for (const auto& item : net.named_children()) {
    if (item.key() == name) return item.value();
  }
  return nullptr;
}

}  // namespace

std::vector<LayerActivation> lcnet_activations(const LcNetImpl& net, const torch::Tensor& images,
                                               int64_t layers) {
  const auto& specs = net.layer_specs();
  const int64_t count = layers < 0 ? static_cast<int64_t>(specs.size())
                                   : std::min<int64_t>(layers, static_cast<int64_t>(specs.size()));
  std::vector<LayerActivation> out;
  torch::Tensor x = net.retina(images);
  for (int64_t i = 0; i < count; ++i) {
    const std::string& name = specs[i].name;
    const auto layer = child(net, name);
    LayerActivation a;
    a.name = name;
    if (auto lc = std::dynamic_pointer_cast<LocallyConnected2dImpl>(layer)) {
      a.pre = lc->forward(x);
    } else if (auto conv = std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(layer)) {
      a.pre = conv->forward(x);
    } else {
      throw_runtime("lcnet_activations: layer {} is neither locally connected nor Conv2d", name);
    }
    torch::Tensor y = a.pre;
    const auto norm = child(net, name + "_norm");
    if (auto bn2 = std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(norm)) {
      y = bn2->forward(y);
    } else if (auto bn1 = std::dynamic_pointer_cast<torch::nn::BatchNorm1dImpl>(norm)) {
      y = bn1->forward(y.flatten(1)).view_as(y);
    } else if (norm != nullptr) {
      throw_runtime("lcnet_activations: norm {}_norm is of an unknown type", name);
    }
    a.post = torch::relu(y);
    x = a.post;
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace nosharing
