#include "nosharing/train/topographic_objective.h"

#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>

#include "nosharing/core/error.h"
#include "nosharing/topography/kernel_smoothness.h"

namespace nosharing {

std::unique_ptr<TopographicObjective> TopographicObjective::from_config(const Config& config,
                                                                        ModelImpl& model) {
  const TopographicLossOptions options = TopographicLossOptions::from_config(config);
  const std::vector<std::string> layer_losses = config.get_string_list("topography.layer_losses");
  std::vector<TopographicLossKind> layer_kinds;
  for (const std::string& name : layer_losses) {
    try {
      layer_kinds.push_back(parse_topographic_loss(name));
    } catch (const UsageError&) {
      throw_usage("topography.layer_losses = {}: \"{}\" is no loss; expected each of none, "
                  "infonce, kernel_smoothness, spatial_correlation, topoloss, wiring or "
                  "lateral_interaction",
                  config_value_to_toml(ConfigValue(layer_losses)), name);
    }
  }
  // Both set is ambiguous (e.g. --set topography.loss=… on a preset with per-layer losses):
  // refused rather than one silently winning.
  if (!layer_kinds.empty() && options.kind() != TopographicLossKind::kNone) {
    throw_usage("topography.loss = \"{}\" and topography.layer_losses = {}: give one of them "
                "(set topography.layer_losses = [] to put topography.loss on every layer)",
                config.get_string("topography.loss"),
                config_value_to_toml(ConfigValue(layer_losses)));
  }
  const auto is_loss = [](TopographicLossKind kind) { return kind != TopographicLossKind::kNone; };
  const bool any_loss = layer_kinds.empty()
                            ? is_loss(options.kind())
                            : std::any_of(layer_kinds.begin(), layer_kinds.end(), is_loss);
  if (!any_loss) return nullptr;
  const size_t layers = model.topographic_layer_count();
  if (layers == 0) {
    throw_usage("topography.loss = \"{}\": model.type = \"{}\" has no conv-shaped layers with a "
                "sheet; expected model.type = lcnet",
                layer_losses.empty() ? config.get_string("topography.loss")
                                     : fmt::format("{}", fmt::join(layer_losses, ", ")),
                config.get_string("model.type"));
  }
  std::vector<std::string> names;
  for (size_t i = 0; i < layers; ++i) names.push_back(model.topographic_layer(i, false).name);
  const auto check_length = [&](const char* key, const std::string& value, size_t size) {
    if (size != layers) {
      throw_usage("{} = {}: {} values for {} layers ({}); give one per layer or none", key, value,
                  size, layers, fmt::join(names, ", "));
    }
  };
  std::vector<TopographicLossKind> kinds(layers, options.kind());
  if (!layer_losses.empty()) {
    check_length("topography.layer_losses", config_value_to_toml(ConfigValue(layer_losses)),
                 layer_losses.size());
    kinds = layer_kinds;
  }
  const double weight = config.get_double("topography.weight");
  std::vector<double> weights(layers);
  for (size_t i = 0; i < layers; ++i) {
    weights[i] = weight < 0 ? default_topographic_weight(kinds[i]) : weight;
  }
  const std::vector<double> overrides = config.get_double_list("topography.layer_weights");
  if (!overrides.empty()) {
    check_length("topography.layer_weights", config_value_to_toml(ConfigValue(overrides)),
                 overrides.size());
    for (double w : overrides) {
      if (!(w >= 0)) {
        throw_usage("topography.layer_weights = {}: weight {}; expected >= 0",
                    config_value_to_toml(ConfigValue(overrides)), w);
      }
    }
    weights = overrides;
  }
  const int64_t every = config.get_int("topography.every");
  if (every < 1) throw_usage("topography.every = {}: expected a number of steps >= 1", every);
  std::vector<double> starts = config.get_double_list("topography.layer_start");
  if (starts.empty()) {
    starts.assign(layers, 0.0);
  } else {
    const std::string text = config_value_to_toml(ConfigValue(starts));
    check_length("topography.layer_start", text, starts.size());
    for (double start : starts) {
      if (!(start >= 0 && start < 1)) {
        throw_usage("topography.layer_start = {}: onset {}; expected a fraction of training in "
                    "[0, 1)",
                    text, start);
      }
    }
  }
  // One loss instance per kind (a loss may cache per-layer geometry by layer name).
  std::vector<TopographicLoss> losses(layers);
  std::map<TopographicLossKind, TopographicLoss> by_kind;
  for (size_t i = 0; i < layers; ++i) {
    if (kinds[i] == TopographicLossKind::kNone || weights[i] == 0) {
      kinds[i] = TopographicLossKind::kNone;
      weights[i] = 0;
      continue;
    }
    TopographicLoss& loss = by_kind[kinds[i]];
    if (!loss) loss = make_topographic_loss(TopographicLossOptions(options).kind(kinds[i]));
    if (loss->needs_responses()) model.record_responses(true);
    losses[i] = loss;
  }
  return std::unique_ptr<TopographicObjective>(
      new TopographicObjective(std::move(kinds), std::move(losses), model, std::move(weights),
                               std::move(starts), every));
}

TopographicObjective::TopographicObjective(std::vector<TopographicLossKind> kinds,
                                           std::vector<TopographicLoss> losses, ModelImpl& model,
                                           std::vector<double> weights,
                                           std::vector<double> starts, int64_t every)
    : kinds_(std::move(kinds)),
      losses_(std::move(losses)),
      model_(model),
      weights_(std::move(weights)),
      starts_(std::move(starts)),
      every_(every) {}

std::vector<TopographicLossKind> TopographicObjective::layer_kinds() const { return kinds_; }

std::vector<std::pair<std::string, double>> TopographicObjective::layer_weights() const {
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 0; i < weights_.size(); ++i) {
    if (weights_[i] > 0) out.emplace_back(model_.topographic_layer(i, false).name, weights_[i]);
  }
  return out;
}

std::vector<std::pair<std::string, double>> neighbour_kernel_similarities(const ModelImpl& model) {
  std::vector<std::pair<std::string, double>> out;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < model.topographic_layer_count(); ++i) {
    const TopographicLayer layer = model.topographic_layer(i, /*with_responses=*/false);
    out.emplace_back(layer.name, mean_neighbour_cosine(layer).item<double>());
  }
  return out;
}

bool TopographicObjective::adds_in_place(size_t index) const {
  if (!losses_[index] || !losses_[index]->adds_gradients()) return false;
  // An unshared layer's own parameters (leaves that train); the twin's kernel, expanded over
  // positions, is a view and goes through autograd.
  const TopographicLayer layer = model_.topographic_layer(index, /*with_responses=*/false);
  return layer.weight.is_leaf() && layer.weight.requires_grad() &&
         (!layer.bias.defined() || (layer.bias.is_leaf() && layer.bias.requires_grad()));
}

torch::Tensor TopographicObjective::compute(std::vector<TopographicTermValue>* terms) {
  if (terms != nullptr) terms->clear();
  torch::Tensor total;
  for (size_t i = 0; i < weights_.size(); ++i) {
    if (!active(i) || adds_in_place(i)) continue;
    const TopographicLayer current = model_.topographic_layer(i, losses_[i]->needs_responses());
    const torch::Tensor value = losses_[i]->forward(current);
    if (terms != nullptr) terms->push_back({current.name, value, weights_[i]});
    const torch::Tensor weighted = value * (weights_[i] * static_cast<double>(every_));
    total = total.defined() ? total + weighted : weighted;
  }
  return total.defined() ? total : torch::zeros({});
}

double TopographicObjective::add_weight_gradients(std::vector<TopographicTermValue>* terms) {
  double total = 0;
  for (size_t i = 0; i < weights_.size(); ++i) {
    if (!active(i) || !adds_in_place(i)) continue;
    const TopographicLayer current = model_.topographic_layer(i, /*with_responses=*/false);
    // The parameter's .grad, as the kernels write it: defined and contiguous.
    const auto gradient_of = [](const torch::Tensor& parameter) -> torch::Tensor {
      if (!parameter.defined()) return {};
      torch::Tensor& grad = parameter.mutable_grad();
      if (!grad.defined()) {
        grad = torch::zeros_like(parameter, torch::MemoryFormat::Contiguous);
      } else if (!grad.is_contiguous()) {
        grad = grad.contiguous();
      }
      return grad;
    };
    const double scale = weights_[i] * static_cast<double>(every_);
    const double value = losses_[i]->add_gradients(current, scale, gradient_of(current.weight),
                                                   gradient_of(current.bias));
    if (terms != nullptr) {
      terms->push_back({current.name, torch::tensor(value, torch::kFloat64), weights_[i]});
    }
    total += scale * value;
  }
  return total;
}

}  // namespace nosharing
