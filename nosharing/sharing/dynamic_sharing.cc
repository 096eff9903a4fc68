#include "nosharing/sharing/dynamic_sharing.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <map>
#include <numeric>

#include "nosharing/core/enum_names.h"
#include "nosharing/core/error.h"
#include "nosharing/core/seed.h"
#include "nosharing/layers/locally_connected.h"
#include "nosharing/models/lcnet.h"

namespace nosharing {
namespace {

// Stream identifier of the sleep phase in derive_seed: "sleep".
constexpr uint64_t kSleepStream = 0x736c656570ULL;

// Renumbers raw class labels [P] to 0 … count−1 in order of first appearance.
SharingClassMap compact(const std::vector<int64_t>& raw) {
  std::map<int64_t, int64_t> ids;
  SharingClassMap map;
  map.index = torch::empty({static_cast<int64_t>(raw.size())}, torch::kInt64);
  int64_t* out = map.index.data_ptr<int64_t>();
  for (size_t p = 0; p < raw.size(); ++p) {
    auto [it, inserted] = ids.emplace(raw[p], static_cast<int64_t>(ids.size()));
    out[p] = it->second;
  }
  map.count = static_cast<int64_t>(ids.size());
  return map;
}

void check_layer_tensors(const torch::Tensor& weight, const torch::Tensor& bias,
                         const SharingClassMap& classes, const char* who) {
  TORCH_CHECK(weight.defined() && weight.dim() >= 2, who, ": expected weight [P, C_out, …]");
  TORCH_CHECK(weight.is_contiguous(), who, ": expected a contiguous weight");
  TORCH_CHECK(classes.index.numel() == weight.size(0), who, ": ", classes.index.numel(),
              " class labels for ", weight.size(0), " positions");
  if (bias.defined()) {
    TORCH_CHECK(bias.dim() == 2 && bias.size(0) == weight.size(0) &&
                    bias.size(1) == weight.size(1) && bias.is_contiguous(),
                who, ": expected a contiguous bias [P, C_out] matching the weight");
  }
}

// rows [P, J] → the mean of each class's rows, gathered back: [P, J].
at::Tensor class_means(const at::Tensor& rows, const SharingClassMap& classes) {
  if (classes.count == 1) return rows.mean(0, /*keepdim=*/true).expand_as(rows);
  const at::Tensor sums = at::zeros({classes.count, rows.size(1)}, rows.options())
                              .index_add_(0, classes.index, rows);
  const at::Tensor counts = at::bincount(classes.index).to(rows.scalar_type());
  return (sums / counts.unsqueeze(1)).index_select(0, classes.index);
}

}  // namespace

SharingOptions SharingOptions::from_config(const Config& config) {
  SharingOptions o;
  constexpr EnumName<SharingMode> kModes[] = {{"none", SharingMode::kNone},
                                               {"instant", SharingMode::kInstant},
                                               {"hebbian", SharingMode::kHebbian}};
  constexpr EnumName<SharingClasses> kClasses[] = {{"all", SharingClasses::kAll},
                                                   {"phase", SharingClasses::kPhase},
                                                   {"local", SharingClasses::kLocal}};
  constexpr EnumName<GradientScale> kScales[] = {{"none", GradientScale::kNone},
                                                 {"class_size", GradientScale::kClassSize}};
  o.mode = get_enum(config, "sharing.mode", kModes);
  o.classes = get_enum(config, "sharing.classes", kClasses);
  o.gradient_scale = get_enum(config, "sharing.gradient_scale", kScales);
  o.every = config.get_int("sharing.every");
  o.group = config.get_int("sharing.group");
  o.iters = config.get_int("sharing.iters");
  o.batch = config.get_int("sharing.batch");
  o.eta = config.get_double("sharing.eta");
  o.gamma = config.get_double("sharing.gamma");
  if (o.every < 1) throw_usage("sharing.every = {}: expected ≥ 1 (optimiser steps)", o.every);
  if (o.group < 1) throw_usage("sharing.group = {}: expected ≥ 1 (positions)", o.group);
  if (o.iters < 1) throw_usage("sharing.iters = {}: expected ≥ 1", o.iters);
  if (o.batch < 1) throw_usage("sharing.batch = {}: expected ≥ 1", o.batch);
  if (!(o.eta > 0 && o.eta < 1)) throw_usage("sharing.eta = {}: expected a rate in (0, 1)", o.eta);
  if (!(o.gamma >= 0 && o.gamma < 1)) {
    throw_usage("sharing.gamma = {}: expected in [0, 1)", o.gamma);
  }
  return o;
}

int64_t phase_period(int64_t kernel, int64_t stride) {
  TORCH_CHECK(kernel >= 1 && stride >= 1, "phase_period: kernel ", kernel, " and stride ", stride,
              " must be ≥ 1");
  return kernel / std::gcd(kernel, stride);
}

SharingClassMap sharing_classes(SharingClasses classes, int64_t output_height,
                                int64_t output_width, int64_t kernel, int64_t stride,
                                int64_t group) {
  TORCH_CHECK(output_height >= 1 && output_width >= 1, "sharing_classes: empty sheet ",
              output_height, "×", output_width);
  const int64_t m = classes == SharingClasses::kPhase ? phase_period(kernel, stride) : 1;
  if (classes == SharingClasses::kLocal) {
    TORCH_CHECK(group >= 1, "sharing_classes: group ", group, " must be ≥ 1");
  }
  const int64_t blocks_x = (output_width + group - 1) / std::max<int64_t>(group, 1);
  std::vector<int64_t> raw;
  raw.reserve(static_cast<size_t>(output_height * output_width));
  for (int64_t y = 0; y < output_height; ++y) {
    for (int64_t x = 0; x < output_width; ++x) {
      switch (classes) {
        case SharingClasses::kAll: raw.push_back(0); break;
        case SharingClasses::kPhase: raw.push_back((y % m) * m + x % m); break;
        case SharingClasses::kLocal: raw.push_back((y / group) * blocks_x + x / group); break;
      }
    }
  }
  return compact(raw);
}

torch::Tensor class_sizes(const SharingClassMap& classes) {
  return at::bincount(classes.index).index_select(0, classes.index).to(torch::kFloat64);
}

namespace {

SharingClassMap layer_classes(const LocallyConnected2dImpl& layer, const SharingOptions& options) {
  const auto& o = layer.options;
  return sharing_classes(options.classes, layer.output_height(), layer.output_width(),
                         o.kernel_size(), o.stride(), options.group);
}

}  // namespace

ClassSizeGradientScale::ClassSizeGradientScale(const ModelImpl& net,
                                               const SharingOptions& options) {
  for (const auto& [name, layer] : net.unshared_layers()) {
    Layer entry;
    entry.weight = layer->weight;
    entry.bias = layer->options.bias() ? layer->bias : torch::Tensor();
    entry.sizes = class_sizes(layer_classes(*layer, options)).to(layer->weight.scalar_type());
    layers_.push_back(std::move(entry));
  }
}

void ClassSizeGradientScale::apply() const {
  torch::NoGradGuard no_grad;
  for (const Layer& layer : layers_) {
    if (layer.weight.grad().defined()) {
      std::vector<int64_t> shape(static_cast<size_t>(layer.weight.dim()), 1);
      shape[0] = layer.sizes.size(0);
      layer.weight.mutable_grad().mul_(layer.sizes.view(shape));
    }
    if (layer.bias.defined() && layer.bias.grad().defined()) {
      layer.bias.mutable_grad().mul_(layer.sizes.unsqueeze(1));
    }
  }
}

void share_instant(const torch::Tensor& weight, const torch::Tensor& bias,
                   const SharingClassMap& classes) {
  check_layer_tensors(weight, bias, classes, "share_instant");
  torch::NoGradGuard no_grad;
  const int64_t positions = weight.size(0);
  at::Tensor rows = weight.view({positions, -1});
  rows.copy_(class_means(rows, classes));
  if (bias.defined()) bias.copy_(class_means(bias, classes));
}

double hebbian_effective_rate(double eta, int64_t batch, int64_t fan_in) {
  return eta * static_cast<double>(batch) / static_cast<double>(batch + fan_in);
}

void share_hebbian(const torch::Tensor& weight, const torch::Tensor& bias,
                   const SharingClassMap& classes, int64_t iters, double eta, double gamma,
                   const std::function<torch::Tensor(int64_t iteration)>& draw_inputs) {
  check_layer_tensors(weight, bias, classes, "share_hebbian");
  torch::NoGradGuard no_grad;
  const int64_t positions = weight.size(0), out_channels = weight.size(1);
  // One row per unit (position, output channel): w [P·C_out, D], b [P·C_out].
  at::Tensor w = weight.view({positions * out_channels, -1});
  const int64_t fan_in = w.size(1);
  at::Tensor b = bias.defined() ? bias.view({-1}) : at::Tensor();
  const at::Tensor w_init = w.clone();
  const at::Tensor b_init = b.defined() ? b.clone() : at::Tensor();
  for (int64_t t = 0; t < iters; ++t) {
    const at::Tensor x = draw_inputs(t).to(w.scalar_type());  // [B, D]
    TORCH_CHECK(x.dim() == 2 && x.size(1) == fan_in, "share_hebbian: inputs ", x.sizes(),
                ", expected [B, ", fan_in, "]");
    const double batch = static_cast<double>(x.size(0));
    // z [P·C_out, B] = w xᵀ + b; z̃ = z − its class mean over positions (per channel, input).
    const at::Tensor z = b.defined() ? at::addmm(b.unsqueeze(1), w, x.t()) : at::mm(w, x.t());
    const at::Tensor z_rows = z.view({positions, -1});  // [P, C_out·B]
    const at::Tensor z_tilde = (z_rows - class_means(z_rows, classes)).view_as(z);
    // w ← w + ηγ(w_init − w) − η⟨z̃ x⟩, in place (lerp, then a GEMM accumulate) so
    // that the large weights of a layer are never copied inside the loop.
    w.lerp_(w_init, eta * gamma);
    w.addmm_(z_tilde, x, /*beta=*/1, /*alpha=*/-eta / batch);
    if (b.defined()) {
      b.lerp_(b_init, eta * gamma);
      b.add_(z_tilde.mean(1), -eta);
    }
  }
}

void sleep_layer(LocallyConnected2dImpl& layer, const SharingOptions& options,
                 at::Generator generator) {
  const SharingClassMap classes = layer_classes(layer, options);
  const torch::Tensor bias = layer.options.bias() ? layer.bias : torch::Tensor();
  switch (options.mode) {
    case SharingMode::kNone: return;
    case SharingMode::kInstant: share_instant(layer.weight, bias, classes); return;
    case SharingMode::kHebbian: {
      const int64_t fan_in = layer.weight.size(2);
      const auto float_options = torch::TensorOptions().dtype(layer.weight.scalar_type());
      share_hebbian(layer.weight, bias, classes, options.iters,
                    hebbian_effective_rate(options.eta, options.batch, fan_in), options.gamma,
                    [&](int64_t) {
                      return at::randn({options.batch, fan_in}, generator, float_options);
                    });
      return;
    }
  }
}

namespace {

// Instant sharing over a single class (every position): the SNR kernel's float64 column means
// are the shared kernel, and afterwards every position holds it (variance exactly 0: the
// cap), so the sleep reads the weight twice and writes it once instead of the seven passes of
// measure + share + measure. Sharing every step (sharing.every = 1) pays this on every step.
WeightSnr share_instant_all(const torch::Tensor& weight, const torch::Tensor& bias) {
  torch::NoGradGuard no_grad;
  const WeightSnrAndMean measured = weight_snr_and_mean(weight);
  weight.copy_(measured.mean.unsqueeze(0).expand_as(weight));
  if (bias.defined()) bias.copy_(bias.mean(0, /*keepdim=*/true).expand_as(bias));
  return measured.snr;
}

}  // namespace

std::vector<SleepRecord> run_sleep_phase(ModelImpl& net, const SharingOptions& options,
                                         uint64_t seed, int64_t step) {
  std::vector<SleepRecord> records;
  uint64_t index = 0;
  for (auto& [name, layer] : net.unshared_layers()) {
    SleepRecord record;
    record.layer = name;
    const uint64_t layer_index = index++;
    if (options.mode == SharingMode::kInstant && layer_classes(*layer, options).count == 1) {
      record.before =
          share_instant_all(layer->weight, layer->options.bias() ? layer->bias : torch::Tensor());
      record.after = {kMaxWeightSnr, kMaxWeightSnr};
    } else {
      record.before = weight_snr(layer->weight);
      at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(
          derive_seed(seed, kSleepStream, static_cast<uint64_t>(step), layer_index));
      sleep_layer(*layer, options, generator);
      record.after = weight_snr(layer->weight);
    }
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace nosharing
