#include "nosharing/models/mapformer.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>

#include "nosharing/core/error.h"
#include "nosharing/topography/kernel_smoothness.h"
#include "nosharing/topography/wiring.h"

namespace nosharing {
namespace {

constexpr double kNormEpsilon = 1e-5;

}  // namespace

MapformerOptions::MapformerOptions(InputShape input, int64_t num_classes)
    : input_(input), num_classes_(num_classes) {}

MapformerOptions MapformerOptions::from_config(const Config& config, const InputShape& input,
                                               int64_t num_classes) {
  const std::string& sharing = config.get_string("model.sharing");
  if (sharing != "none") {
    throw_usage(
        "model.sharing = \"{}\": the mapformer has no conv twin (its attention and MLPs "
        "are per column by design); model.embedding = \"shared\" shares the patch "
        "embedding",
        sharing);
  }
  MapformerOptions options(input, num_classes);
  const std::string& embedding = config.get_string("model.embedding");
  if (embedding != "unshared" && embedding != "shared") {
    throw_usage("model.embedding = \"{}\": expected unshared or shared", embedding);
  }
  options.patch(config.get_int("model.patch"))
      .dim(config.get_int("model.dim"))
      .depth(config.get_int("model.depth"))
      .mlp_ratio(config.get_double("model.mlp_ratio"))
      .shared_embedding(embedding == "shared")
      .content_attn(config.get_bool("model.content_attn"))
      .spatial_bias(config.get_bool("model.spatial_bias"))
      .bias_init(parse_spatial_bias_init(config.get_string("model.bias_init"), "model.bias_init"))
      .bias_sigma(config.get_double("model.bias_sigma"))
      .attn_dropout(config.get_double("model.attn_dropout"))
      .drop_path(config.get_double("model.drop_path"))
      .layerwise(config.get_bool("model.layerwise"))
      .aux_wiring(config.get_double("model.aux_wiring"))
      .aux_infonce(config.get_double("model.aux_infonce"))
      .aux_smoothness(config.get_double("model.aux_smoothness"))
      .infonce(InfoNceLossOptions::from_config(config))
      .reference_kernels(config.get_string("model.lc_path") == "reference");
  check_mapformer_options(options);
  return options;
}

void check_mapformer_options(const MapformerOptions& o) {
  const InputShape& input = o.input();
  if (input.channels < 1 || input.height < 1 || input.width < 1) {
    throw_usage("input {}×{}×{} (channels × height × width): every size must be >= 1",
                input.channels, input.height, input.width);
  }
  if (o.num_classes() < 1) throw_usage("mapformer: {} classes; expected >= 1", o.num_classes());
  if (o.patch() < 1) throw_usage("model.patch = {}: expected >= 1", o.patch());
  if (input.height % o.patch() != 0 || input.width % o.patch() != 0) {
    throw_usage("model.patch = {}: the {}×{} images do not divide into {}×{} patches", o.patch(),
                input.height, input.width, o.patch(), o.patch());
  }
  if (o.dim() < 1) throw_usage("model.dim = {}: expected >= 1", o.dim());
  if (o.depth() < 1) throw_usage("model.depth = {}: expected >= 1", o.depth());
  if (!(o.mlp_ratio() > 0) || !std::isfinite(o.mlp_ratio())) {
    throw_usage("model.mlp_ratio = {}: expected a positive number", o.mlp_ratio());
  }
  if (!(o.bias_sigma() > 0)) throw_usage("model.bias_sigma = {}: expected > 0", o.bias_sigma());
  if (!(o.attn_dropout() >= 0 && o.attn_dropout() < 1)) {
    throw_usage("model.attn_dropout = {}: expected a probability in [0, 1)", o.attn_dropout());
  }
  if (!(o.drop_path() >= 0 && o.drop_path() < 1)) {
    throw_usage("model.drop_path = {}: expected a probability in [0, 1)", o.drop_path());
  }
  if (!(o.aux_wiring() >= 0)) throw_usage("model.aux_wiring = {}: expected >= 0", o.aux_wiring());
  if (!(o.aux_infonce() >= 0)) {
    throw_usage("model.aux_infonce = {}: expected >= 0", o.aux_infonce());
  }
  if (!(o.aux_smoothness() >= 0)) {
    throw_usage("model.aux_smoothness = {}: expected >= 0", o.aux_smoothness());
  }
  check_infonce_options(o.infonce());
  if (o.layerwise() && o.depth() > 1 && o.aux_wiring() == 0 && o.aux_infonce() == 0) {
    throw_usage(
        "model.layerwise = true: every block but the last learns only from its "
        "auxiliary losses, and model.aux_wiring = model.aux_infonce = 0; give one a "
        "weight > 0");
  }
}

torch::Tensor image_patches(const torch::Tensor& images, int64_t patch) {
  TORCH_CHECK(
      images.dim() == 4 && patch >= 1 && images.size(2) % patch == 0 && images.size(3) % patch == 0,
      "image_patches: images [B, C, H, W] ", images.sizes(), " do not divide into patches of side ",
      patch);
  const int64_t b = images.size(0), c = images.size(1);
  const int64_t gh = images.size(2) / patch, gw = images.size(3) / patch;
  // [B, C, gh, p, gw, p] → [B, gh, gw, C, p, p] → [B, L, C·p·p]
  return images.reshape({b, c, gh, patch, gw, patch})
      .permute({0, 2, 4, 1, 3, 5})
      .reshape({b, gh * gw, c * patch * patch});
}

torch::Tensor drop_path(const torch::Tensor& x, double rate, bool training) {
  if (!training || rate <= 0) return x;
  TORCH_CHECK(rate < 1, "drop_path: rate must be in [0, 1), got ", rate);
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  const torch::Tensor keep = at::empty(shape, x.options()).bernoulli_(1 - rate) / (1 - rate);
  return x * keep;
}

torch::Tensor column_norm(const torch::Tensor& x) {
  return at::layer_norm(x, {x.size(-1)}, /*weight=*/{}, /*bias=*/{}, kNormEpsilon);
}

MapformerBlockOptions::MapformerBlockOptions(int64_t height, int64_t width, int64_t dim)
    : height_(height), width_(width), dim_(dim) {}

MapformerBlockImpl::MapformerBlockImpl(MapformerBlockOptions options_)
    : options(std::move(options_)) {
  reset();
}

void MapformerBlockImpl::reset() {
  attn = register_module(
      "attn",
      ColumnAttention(ColumnAttentionOptions(options.height(), options.width(), options.dim())
                          .content_attn(options.content_attn())
                          .spatial_bias(options.spatial_bias())
                          .bias_init(options.bias_init())
                          .bias_sigma(options.bias_sigma())
                          .attn_dropout(options.attn_dropout())));
  mlp = register_module(
      "mlp", ColumnMlp(ColumnMlpOptions(options.height() * options.width(), options.dim())
                           .mlp_ratio(options.mlp_ratio())
                           .reference(options.reference_kernels())));
}

torch::Tensor MapformerBlockImpl::forward(const torch::Tensor& x) {
  const bool training = is_training();
  torch::Tensor y = x + drop_path(attn->forward(column_norm(x)), options.drop_path(), training);
  return y + drop_path(mlp->forward(column_norm(y)), options.drop_path(), training);
}

MapformerImpl::MapformerImpl(MapformerOptions options) : options_(std::move(options)) {
  check_mapformer_options(options_);
  const InputShape& input = options_.input();
  grid_height_ = input.height / options_.patch();
  grid_width_ = input.width / options_.patch();
  const int64_t columns = grid_height_ * grid_width_;
  const int64_t patch_features = input.channels * options_.patch() * options_.patch();
  if (options_.shared_embedding()) {
    shared_embed_ = register_module("embed", torch::nn::Linear(patch_features, options_.dim()));
  } else {
    column_embed_ = register_module(
        "embed", ColumnLinear(ColumnLinearOptions(columns, patch_features, options_.dim())
                                  .reference(options_.reference_kernels())));
  }
  const int64_t depth = options_.depth();
  for (int64_t k = 0; k < depth; ++k) {
    const double rate =
        depth > 1 ? options_.drop_path() * static_cast<double>(k) / static_cast<double>(depth - 1)
                  : options_.drop_path();
    blocks_.push_back(register_module(
        fmt::format("block{}", k + 1),
        MapformerBlock(MapformerBlockOptions(grid_height_, grid_width_, options_.dim())
                           .mlp_ratio(options_.mlp_ratio())
                           .content_attn(options_.content_attn())
                           .spatial_bias(options_.spatial_bias())
                           .bias_init(options_.bias_init())
                           .bias_sigma(options_.bias_sigma())
                           .attn_dropout(options_.attn_dropout())
                           .drop_path(rate)
                           .reference_kernels(options_.reference_kernels()))));
  }
  head_ = register_module("head", FactorisedHead(FactorisedHeadOptions(columns, options_.dim(),
                                                                       options_.num_classes())));
  wiring_lengths_ = attention_wiring_lengths(grid_height_, grid_width_);
  infonce_neighbours_ =
      infonce_neighbour_weights(grid_height_, grid_width_, options_.infonce().sigma());
}

torch::Tensor MapformerImpl::embed(const torch::Tensor& images) {
  const InputShape& input = options_.input();
  TORCH_CHECK(images.dim() == 4 && images.size(1) == input.channels &&
                  images.size(2) == input.height && images.size(3) == input.width,
              "mapformer: expected images [B, ", input.channels, ", ", input.height, ", ",
              input.width, "], got ", images.sizes());
  const torch::Tensor patches = image_patches(images, options_.patch());
  return options_.shared_embedding() ? shared_embed_->forward(patches)
                                     : column_embed_->forward(patches);
}

torch::Tensor MapformerImpl::forward(torch::Tensor images) {
  torch::Tensor x = embed(images);
  block_outputs_.clear();
  const bool record = is_training();
  for (size_t k = 0; k < blocks_.size(); ++k) {
    if (options_.layerwise() && k > 0 && is_training()) x = x.detach();
    x = blocks_[k]->forward(x);
    if (record) block_outputs_.push_back(x);
  }
  return head_->forward(column_norm(x));
}

torch::Tensor MapformerImpl::features(const torch::Tensor& images, int64_t blocks) {
  TORCH_CHECK(blocks >= 0 && blocks <= static_cast<int64_t>(blocks_.size()),
              "mapformer features: blocks must be in [0, ", blocks_.size(), "], got ", blocks);
  torch::Tensor x = embed(images);
  for (int64_t k = 0; k < blocks; ++k) {
    if (options_.layerwise() && k > 0 && is_training()) x = x.detach();
    x = blocks_[static_cast<size_t>(k)]->forward(x);
  }
  return x;
}

std::vector<torch::Tensor> MapformerImpl::block_features(const torch::Tensor& images) {
  std::vector<torch::Tensor> out;
  torch::Tensor x = embed(images);
  for (size_t k = 0; k < blocks_.size(); ++k) {
    if (options_.layerwise() && k > 0 && is_training()) x = x.detach();
    x = blocks_[k]->forward(x);
    out.push_back(x);
  }
  return out;
}

torch::Tensor MapformerImpl::block_wiring_cost(size_t block) const {
  TORCH_CHECK(block < blocks_.size(), "mapformer: no block ", block);
  const torch::Tensor& attention = blocks_[block]->attn->last_attention();
  TORCH_CHECK(attention.defined(), "mapformer: block ", block + 1,
              " has no attention maps (run forward first)");
  return attention_wiring_cost(attention, wiring_lengths_);
}

torch::Tensor MapformerImpl::block_infonce(size_t block) const {
  TORCH_CHECK(block < block_outputs_.size(), "mapformer: block ", block + 1,
              " has no recorded output (run forward in training mode first)");
  return sampled_infonce_loss(block_outputs_[block], infonce_neighbours_, options_.infonce());
}

std::vector<AuxiliaryLoss> MapformerImpl::auxiliary_losses() {
  std::vector<AuxiliaryLoss> losses;
  if (!is_training() || block_outputs_.size() != blocks_.size()) return losses;
  const double depth = static_cast<double>(blocks_.size());
  if (options_.aux_wiring() > 0) {
    torch::Tensor sum = block_wiring_cost(0);
    for (size_t k = 1; k < blocks_.size(); ++k) sum = sum + block_wiring_cost(k);
    losses.push_back({"wiring", sum / depth, options_.aux_wiring()});
  }
  if (options_.aux_infonce() > 0) {
    torch::Tensor sum = block_infonce(0);
    for (size_t k = 1; k < blocks_.size(); ++k) sum = sum + block_infonce(k);
    losses.push_back({"infonce", sum / depth, options_.aux_infonce()});
  }
  if (options_.aux_smoothness() > 0) {
    losses.push_back({"smoothness", weight_smoothness(), options_.aux_smoothness()});
  }
  return losses;
}

std::vector<TopographicLayer> MapformerImpl::column_weight_layers() const {
  std::vector<TopographicLayer> layers;
  const auto add = [&](const std::string& name, const ColumnLinear& linear) {
    TopographicLayer layer(name, Sheet(SheetOptions(linear->weight.size(1), grid_height_,
                                                    grid_width_)));
    layer.weight = linear->weight;
    layer.bias = linear->bias;
    layers.push_back(std::move(layer));
  };
  if (column_embed_) add("embed", column_embed_);
  for (size_t k = 0; k < blocks_.size(); ++k) {
    add(fmt::format("block{}.fc1", k + 1), blocks_[k]->mlp->fc1);
    add(fmt::format("block{}.fc2", k + 1), blocks_[k]->mlp->fc2);
  }
  return layers;
}

torch::Tensor MapformerImpl::weight_smoothness() const {
  const std::vector<TopographicLayer> layers = column_weight_layers();
  torch::Tensor sum;
  for (const TopographicLayer& layer : layers) {
    const torch::Tensor k = (1 - mean_neighbour_cosine(layer)) / 2;
    sum = sum.defined() ? sum + k : k;
  }
  return sum / static_cast<double>(layers.size());
}

std::vector<std::pair<std::string, torch::Tensor>> MapformerImpl::weight_snr_layers() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  out.emplace_back("embed", options_.shared_embedding() ? torch::Tensor() : column_embed_->weight);
  for (size_t k = 0; k < blocks_.size(); ++k) {
    const ColumnMlp& mlp = blocks_[k]->mlp;
    out.emplace_back(fmt::format("block{}.mlp.fc1", k + 1), mlp->fc1->weight);
    out.emplace_back(fmt::format("block{}.mlp.fc2", k + 1), mlp->fc2->weight);
  }
  return out;
}

}  // namespace nosharing
