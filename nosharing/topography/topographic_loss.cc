#include "nosharing/topography/topographic_loss.h"

#include <torch/torch.h>

#include "nosharing/core/error.h"
#include "nosharing/topography/infonce.h"
#include "nosharing/topography/kernel_smoothness.h"
#include "nosharing/topography/lateral_interaction.h"
#include "nosharing/topography/spatial_correlation.h"
#include "nosharing/topography/topoloss.h"
#include "nosharing/topography/wiring.h"

namespace nosharing {
namespace {

struct LossName {
  TopographicLossKind kind;
  const char* name;
  double weight;  // the paper's weight (ours where no paper gives one; see the header)
};

constexpr LossName kLosses[] = {
    {TopographicLossKind::kNone, "none", 0.0},
    {TopographicLossKind::kInfoNce, "infonce", 0.1},
    {TopographicLossKind::kKernelSmoothness, "kernel_smoothness", 10.0},
    {TopographicLossKind::kSpatialCorrelation, "spatial_correlation", 0.25},
    {TopographicLossKind::kTopoLoss, "topoloss", 1.0},
    {TopographicLossKind::kWiring, "wiring", 1e-4},
    {TopographicLossKind::kLateralInteraction, "lateral_interaction", 30.0},
};

}  // namespace

double TopographicLossImpl::add_gradients(const TopographicLayer& layer, double /*scale*/,
                                          const torch::Tensor& /*grad_weight*/,
                                          const torch::Tensor& /*grad_bias*/) {
  TORCH_CHECK(false, "topographic loss on layer ", layer.name,
              ": add_gradients is only for losses of the weights alone (adds_gradients())");
}

TopographicLossKind parse_topographic_loss(const std::string& name) {
  for (const LossName& loss : kLosses) {
    if (name == loss.name) return loss.kind;
  }
  throw_usage("topography.loss = \"{}\": expected none, infonce, kernel_smoothness, "
              "spatial_correlation, topoloss, wiring or lateral_interaction",
              name);
}

std::string topographic_loss_name(TopographicLossKind kind) {
  for (const LossName& loss : kLosses) {
    if (kind == loss.kind) return loss.name;
  }
  return "?";
}

double default_topographic_weight(TopographicLossKind kind) {
  for (const LossName& loss : kLosses) {
    if (kind == loss.kind) return loss.weight;
  }
  return 0.0;
}

TopographicLossOptions TopographicLossOptions::from_config(const Config& config) {
  TopographicLossOptions options(parse_topographic_loss(config.get_string("topography.loss")));
  options.infonce(InfoNceLossOptions::from_config(config))
      .radius(config.get_double("topography.radius"))
      .units(config.get_int("topography.units"))
      .neighbourhoods(config.get_int("topography.neighbourhoods"))
      .factor(config.get_double("topography.factor"))
      .coverage(config.get_double("topography.coverage"))
      .spacing(config.get_double("topography.spacing"))
      .surround(config.get_double("topography.surround"))
      .field(config.get_string("topography.field"));
  parse_interaction_field(options.field());
  const auto positive_int = [&](const char* key, int64_t value, int64_t minimum) {
    if (value < minimum) throw_usage("{} = {}: expected an integer >= {}", key, value, minimum);
  };
  const auto positive = [&](const char* key, double value) {
    if (!(value > 0)) throw_usage("{} = {}: expected a number > 0", key, value);
  };
  positive_int("topography.units", options.units(), 2);
  positive_int("topography.neighbourhoods", options.neighbourhoods(), 1);
  positive("topography.radius", options.radius());
  if (!(options.coverage() >= 0)) {
    throw_usage("topography.coverage = {}: expected a weight >= 0", options.coverage());
  }
  if (!(options.spacing() > 2)) {
    throw_usage("topography.spacing = {}: expected a column spacing > 2 sheet cells",
                options.spacing());
  }
  if (!(options.surround() > 1)) {
    throw_usage("topography.surround = {}: expected a surround/centre width ratio > 1",
                options.surround());
  }
  if (!(options.factor() >= 1)) {
    throw_usage("topography.factor = {}: expected a blur factor >= 1", options.factor());
  }
  return options;
}

TopographicLoss make_topographic_loss(const TopographicLossOptions& options) {
  switch (options.kind()) {
    case TopographicLossKind::kNone:
      return nullptr;
    case TopographicLossKind::kKernelSmoothness:
      return std::make_shared<KernelSmoothnessLossImpl>(
          KernelSmoothnessLossOptions().coverage(options.coverage()));
    case TopographicLossKind::kSpatialCorrelation:
      return std::make_shared<SpatialCorrelationLossImpl>(SpatialCorrelationLossOptions()
                                                              .radius(options.radius())
                                                              .units(options.units())
                                                              .neighbourhoods(options.neighbourhoods()));
    case TopographicLossKind::kTopoLoss:
      return std::make_shared<TopoLossImpl>(TopoLossOptions().factor(options.factor()));
    case TopographicLossKind::kInfoNce:
      return std::make_shared<InfoNceLossImpl>(options.infonce());
    case TopographicLossKind::kWiring:
      return std::make_shared<WiringLossImpl>();
    case TopographicLossKind::kLateralInteraction:
      return std::make_shared<LateralInteractionLossImpl>(
          LateralInteractionLossOptions()
              .spacing(options.spacing())
              .surround(options.surround())
              .field(parse_interaction_field(options.field())));
  }
  return nullptr;
}

torch::Tensor normalize_rows(const torch::Tensor& x) {
  return x / x.norm(2, /*dim=*/1, /*keepdim=*/true).clamp_min(1e-12);
}

torch::Tensor unit_weight_vectors(const torch::Tensor& weight, const torch::Tensor& bias) {
  TORCH_CHECK(weight.dim() == 3, "unit_weight_vectors: expected weight [P, C, D], got ",
              weight.sizes());
  const int64_t positions = weight.size(0);
  const int64_t channels = weight.size(1);
  torch::Tensor vectors = weight.permute({1, 0, 2});  // [C, P, D]: units in (c, y, x) order
  if (bias.defined()) {
    TORCH_CHECK(bias.dim() == 2 && bias.size(0) == positions && bias.size(1) == channels,
                "unit_weight_vectors: expected bias [", positions, ", ", channels, "], got ",
                bias.sizes());
    vectors = torch::cat({vectors, bias.t().unsqueeze(2)}, 2);
  }
  return vectors.reshape({positions * channels, -1});
}

}  // namespace nosharing
