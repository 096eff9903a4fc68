#include "nosharing/models/lcnet.h"

#include <fmt/format.h>
#include <algorithm>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/dropout.h>

#include "nosharing/core/enum_names.h"
#include "nosharing/core/error.h"
#include "nosharing/core/seed.h"

namespace nosharing {
namespace {

// The random stream of the sheets' retinotopic jitter (derive_seed(train.seed, this, layer)).
constexpr uint64_t kSheetSeedStream = 0x5ee7;

std::string toml_list(const std::vector<int64_t>& values) {
  return config_value_to_toml(ConfigValue(values));
}

// One value per layer from a list of one (for all layers) or of one per layer.
std::vector<int64_t> per_layer(const std::vector<int64_t>& values, const std::string& key,
                               const std::vector<int64_t>& channels) {
  const size_t layers = channels.size();
  if (values.size() == layers) return values;
  if (values.size() == 1) return std::vector<int64_t>(layers, values.front());
  throw_usage("{} = {}: {} values for {} layers (model.channels = {}); give one value for "
              "all layers or one per layer",
              key, toml_list(values), values.size(), layers, toml_list(channels));
}

}  // namespace

LcNetOptions::LcNetOptions(InputShape input, int64_t num_classes, std::vector<int64_t> channels)
    : input_(input), num_classes_(num_classes), channels_(std::move(channels)) {}

LcNetOptions LcNetOptions::from_config(const Config& config, const InputShape& input,
                                       int64_t num_classes) {
  LcNetOptions options(input, num_classes, config.get_int_list("model.channels"));
  options.kernels(config.get_int_list("model.kernels"))
      .strides(config.get_int_list("model.strides"))
      .paddings(config.get_int_list("model.paddings"))
      .hidden(config.get_int_list("model.hidden"))
      .dropout(config.get_double("model.dropout"))
      .reference_kernels(config.get_string("model.lc_path") == "reference")
      .layout(parse_sheet_layout(config.get_string("model.layout"), "model.layout"))
      .jitter(config.get_double("model.jitter"))
      .sheet_extents(config.get_double_list("model.sheet_extent"))
      .sheet_seed(static_cast<uint64_t>(config.get_int("train.seed")));
  if (config.get_string("model.retina") == "dog") {
    const std::vector<double> sigmas = config.get_double_list("model.retina_sigmas");
    if (sigmas.size() != 2 || !(sigmas[0] > 0) || !(sigmas[1] > sigmas[0])) {
      throw_usage("model.retina_sigmas = {}: expected [centre, surround] with 0 < centre < "
                  "surround",
                  config_value_to_toml(ConfigValue(sigmas)));
    }
    options.retina_sigmas(sigmas);
  }

  constexpr EnumName<LcNetSharing> kSharings[] = {{"none", LcNetSharing::kNone},
                                                  {"conv", LcNetSharing::kConv}};
  constexpr EnumName<LcNetNorm> kNorms[] = {{"batch", LcNetNorm::kBatch},
                                            {"batch_position", LcNetNorm::kBatchPosition},
                                            {"none", LcNetNorm::kNone}};
  options.sharing(get_enum(config, "model.sharing", kSharings));
  options.norm(get_enum(config, "model.norm", kNorms));
  return options;
}

std::vector<LcNetLayerSpec> lcnet_layer_specs(const LcNetOptions& options) {
  const InputShape& input = options.input();
  if (input.channels < 1 || input.height < 1 || input.width < 1) {
    throw_usage("input {}×{}×{} (channels × height × width): every size must be >= 1",
                input.channels, input.height, input.width);
  }
  if (options.num_classes() < 1) {
    throw_usage("lcnet: {} classes; expected >= 1", options.num_classes());
  }
  const std::vector<int64_t>& channels = options.channels();
  if (channels.empty()) {
    throw_usage("model.channels = []: an lcnet needs at least one layer");
  }
  if (options.kernels().empty()) {
    throw_usage("model.kernels = []: give one kernel size for all layers or one per layer");
  }
  if (options.strides().empty()) {
    throw_usage("model.strides = []: give one stride for all layers or one per layer");
  }
  const std::vector<int64_t> kernels = per_layer(options.kernels(), "model.kernels", channels);
  const std::vector<int64_t> strides = per_layer(options.strides(), "model.strides", channels);
  std::vector<int64_t> paddings;
  if (options.paddings().empty()) {
    for (int64_t kernel : kernels) paddings.push_back(kernel / 2);
  } else {
    paddings = per_layer(options.paddings(), "model.paddings", channels);
  }

  std::vector<LcNetLayerSpec> specs;
  int64_t in_channels = input.channels;
  int64_t height = input.height;
  int64_t width = input.width;
  for (size_t i = 0; i < channels.size(); ++i) {
    LcNetLayerSpec spec;
    spec.name = fmt::format("lc{}", i + 1);
    if (channels[i] < 1) {
      throw_usage("model.channels = {}: layer {} has {} channels; expected >= 1",
                  toml_list(options.channels()), spec.name, channels[i]);
    }
    if (kernels[i] < 1) {
      throw_usage("model.kernels = {}: layer {} kernel {}; expected >= 1",
                  toml_list(options.kernels()), spec.name, kernels[i]);
    }
    if (strides[i] < 1) {
      throw_usage("model.strides = {}: layer {} stride {}; expected >= 1",
                  toml_list(options.strides()), spec.name, strides[i]);
    }
    if (paddings[i] < 0) {
      throw_usage("model.paddings = {}: layer {} padding {}; expected >= 0",
                  toml_list(options.paddings()), spec.name, paddings[i]);
    }
    const int64_t padded_height = height + 2 * paddings[i];
    const int64_t padded_width = width + 2 * paddings[i];
    if (kernels[i] > padded_height || kernels[i] > padded_width) {
      throw_usage("model.kernels = {}: layer {} kernel {} is larger than its padded input {}×{}",
                  toml_list(options.kernels()), spec.name, kernels[i], padded_height,
                  padded_width);
    }
    spec.in_channels = in_channels;
    spec.out_channels = channels[i];
    spec.kernel = kernels[i];
    spec.stride = strides[i];
    spec.padding = paddings[i];
    spec.input_height = height;
    spec.input_width = width;
    spec.output_height = conv_output_size(height, kernels[i], strides[i], paddings[i]);
    spec.output_width = conv_output_size(width, kernels[i], strides[i], paddings[i]);
    specs.push_back(spec);
    in_channels = spec.out_channels;
    height = spec.output_height;
    width = spec.output_width;
  }

  for (size_t j = 0; j < options.hidden().size(); ++j) {
    if (options.hidden()[j] < 1) {
      throw_usage("model.hidden = {}: layer fc{} width {}; expected >= 1",
                  toml_list(options.hidden()), j + 1, options.hidden()[j]);
    }
  }
  if (!(options.dropout() >= 0.0 && options.dropout() < 1.0)) {
    throw_usage("model.dropout = {}: expected a probability in [0, 1)", options.dropout());
  }
  return specs;
}

LcNetImpl::LcNetImpl(LcNetOptions options)
    : options_(std::move(options)), specs_(lcnet_layer_specs(options_)) {
  for (const LcNetLayerSpec& spec : specs_) {
    if (options_.sharing() == LcNetSharing::kNone) {
      unshared_.push_back(register_module(
          spec.name, LocallyConnected2d(LocallyConnected2dOptions(spec.in_channels,
                                                                  spec.out_channels, spec.kernel,
                                                                  spec.input_height,
                                                                  spec.input_width)
                                            .stride(spec.stride)
                                            .padding(spec.padding)
                                            .reference(options_.reference_kernels()))));
    } else {
      // Same shapes, bias included, so that the twin differs only in sharing.
      conv_.push_back(register_module(
          spec.name, torch::nn::Conv2d(torch::nn::Conv2dOptions(spec.in_channels,
                                                                spec.out_channels, spec.kernel)
                                           .stride(spec.stride)
                                           .padding(spec.padding))));
    }
    const std::string norm_name = spec.name + "_norm";
    if (options_.norm() == LcNetNorm::kBatch) {
      channel_norms_.push_back(
          register_module(norm_name, torch::nn::BatchNorm2d(spec.out_channels)));
    } else if (options_.norm() == LcNetNorm::kBatchPosition) {
      position_norms_.push_back(register_module(
          norm_name, torch::nn::BatchNorm1d(spec.out_channels * spec.output_height *
                                            spec.output_width)));
    }
  }

  const std::vector<double>& extents = options_.sheet_extents();
  if (!extents.empty() && extents.size() != 1 && extents.size() != specs_.size()) {
    throw_usage("model.sheet_extent = {}: {} values for {} layers; give one value for all "
                "layers or one per layer",
                config_value_to_toml(ConfigValue(extents)), extents.size(), specs_.size());
  }
  for (size_t i = 0; i < specs_.size(); ++i) {
    const LcNetLayerSpec& spec = specs_[i];
    const double extent = extents.empty() ? 0.0 : extents.size() == 1 ? extents[0] : extents[i];
    try {
      sheets_.emplace_back(SheetOptions(spec.out_channels, spec.output_height, spec.output_width)
                               .layout(options_.layout())
                               .jitter(options_.jitter())
                               .extent(extent)
                               .seed(derive_seed(options_.sheet_seed(), kSheetSeedStream, i)));
    } catch (const UsageError& error) {
      throw UsageError(fmt::format("layer {}: {}", spec.name, error.what()));
    }
  }

  if (!options_.retina_sigmas().empty()) {
    const std::vector<double>& sigmas = options_.retina_sigmas();
    const torch::Tensor kernel = difference_of_gaussians(sigmas.at(0), sigmas.at(1));
    retina_kernel_ = register_buffer(
        "retina_kernel",
        kernel.view({1, 1, kernel.size(0), kernel.size(1)})
            .repeat({options_.input().channels, 1, 1, 1}));
  }

  const LcNetLayerSpec& last = specs_.back();
  int64_t features = last.out_channels * last.output_height * last.output_width;
  for (size_t j = 0; j < options_.hidden().size(); ++j) {
    fully_connected_.push_back(register_module(
        fmt::format("fc{}", j + 1), torch::nn::Linear(features, options_.hidden()[j])));
    features = options_.hidden()[j];
  }
  fully_connected_.push_back(register_module(
      "classifier", torch::nn::Linear(features, options_.num_classes())));
}

torch::Tensor difference_of_gaussians(double centre_sigma, double surround_sigma) {
  const int64_t radius = static_cast<int64_t>(std::ceil(3 * surround_sigma));
  const torch::Tensor t = torch::arange(-radius, radius + 1, torch::kDouble);
  const torch::Tensor r2 = t.view({-1, 1}).pow(2) + t.view({1, -1}).pow(2);
  auto gaussian = [&](double sigma) {
    const torch::Tensor g = torch::exp(-r2 / (2 * sigma * sigma));
    return g / g.sum();
  };
  return (gaussian(centre_sigma) - gaussian(surround_sigma)).to(torch::kFloat);
}

torch::Tensor LcNetImpl::retina(const torch::Tensor& images) const {
  if (!retina_kernel_.defined()) return images;
  const int64_t pad = retina_kernel_.size(-1) / 2;
  const std::vector<int64_t> ones{1, 1}, zeros{0, 0};
  return torch::conv2d(torch::replication_pad2d(images, {pad, pad, pad, pad}), retina_kernel_,
                       torch::Tensor(), ones, zeros, ones, images.size(1));
}

torch::Tensor LcNetImpl::forward(torch::Tensor images) {
  check_input_images(images, options_.input(), "lcnet");
  torch::Tensor x = retina(images);
  recorded_.clear();
  recorded_sinks_.clear();
  for (size_t i = 0; i < specs_.size(); ++i) {
    x = options_.sharing() == LcNetSharing::kNone ? unshared_[i]->forward(x)
                                                  : conv_[i]->forward(x);
    if (options_.norm() == LcNetNorm::kBatch) {
      x = channel_norms_[i]->forward(x);
    } else if (options_.norm() == LcNetNorm::kBatchPosition) {
      x = position_norms_[i]->forward(x.flatten(1)).view_as(x);
    }
    x = torch::relu(x);
    if (record_responses_) {
      // Tapped where the graph runs through them: the response losses' gradients then join
      // the task's in place instead of as whole-layer tensors.
      std::shared_ptr<ResponseGradientSink> sink;
      if (torch::GradMode::is_enabled() && x.requires_grad()) {
        sink = std::make_shared<ResponseGradientSink>();
        x = tap_responses(x, sink);
      }
      recorded_.push_back(x);
      recorded_sinks_.push_back(std::move(sink));
    }
  }
  x = x.flatten(1);
  const double dropout = options_.dropout();
  for (size_t j = 0; j < fully_connected_.size(); ++j) {
    if (dropout > 0) x = torch::dropout(x, dropout, is_training());
    x = fully_connected_[j]->forward(x);
    if (j + 1 < fully_connected_.size()) x = torch::relu(x);
  }
  return x;
}

std::vector<std::pair<std::string, LocallyConnected2d>> LcNetImpl::unshared_layers() const {
  std::vector<std::pair<std::string, LocallyConnected2d>> layers;
  for (size_t i = 0; i < unshared_.size(); ++i) layers.emplace_back(specs_[i].name, unshared_[i]);
  return layers;
}

std::vector<std::pair<std::string, torch::nn::Conv2d>> LcNetImpl::conv_layers() const {
  std::vector<std::pair<std::string, torch::nn::Conv2d>> layers;
  for (size_t i = 0; i < conv_.size(); ++i) layers.emplace_back(specs_[i].name, conv_[i]);
  return layers;
}

TopographicLayer LcNetImpl::topographic_layer(size_t index, bool with_responses) const {
  const LcNetLayerSpec& spec = specs_.at(index);
  TopographicLayer layer{spec.name, sheets_[index]};
  layer.kernel = spec.kernel;
  layer.stride = spec.stride;
  if (!unshared_.empty()) {
    layer.weight = unshared_[index]->weight;
    layer.bias = unshared_[index]->bias;
  } else {
    // The twin: its one kernel at every position, as an expanded view (no copy).
    const torch::nn::Conv2d& conv = conv_[index];
    const int64_t positions = spec.output_height * spec.output_width;
    layer.weight =
        conv->weight.reshape({1, spec.out_channels, -1}).expand({positions, spec.out_channels, -1});
    if (conv->bias.defined()) {
      layer.bias = conv->bias.reshape({1, -1}).expand({positions, spec.out_channels});
    }
  }
  if (with_responses) {
    TORCH_CHECK(index < recorded_.size(), "topographic objective: layer ", spec.name,
                " has no recorded responses (call compute after the model's forward)");
    layer.responses = recorded_[index];
    layer.response_sink = recorded_sinks_[index];
  }
  return layer;
}

}  // namespace nosharing
