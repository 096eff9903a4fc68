#include "nosharing/analysis/analyze.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/modules/conv.h>
#include <torch/utils.h>

#include <cmath>
#include <limits>

#include "nosharing/analysis/kernel_distance.h"
#include "nosharing/analysis/layer_activations.h"
#include "nosharing/analysis/retinotopy.h"
#include "nosharing/analysis/sheet_maps.h"
#include "nosharing/core/error.h"
#include "nosharing/core/json_number.h"
#include "nosharing/data/loader.h"
#include "nosharing/topography/wiring.h"

namespace nosharing {
namespace {

double mean_finite(const std::vector<double>& values) {
  double sum = 0;
  int64_t n = 0;
  for (double v : values) {
    if (std::isfinite(v)) {
      sum += v;
      ++n;
    }
  }
  return n ? sum / static_cast<double>(n) : kNan;
}

// The wiring cost C (topography/wiring.h) of layer `index`'s weights; the twin's one kernel
// counts as the same kernel at every position.
double layer_wiring_length(const LcNetImpl& net, size_t index) {
  torch::NoGradGuard no_grad;
  const LcNetLayerSpec& spec = net.layer_specs()[index];
  const torch::Tensor factors = wiring_length_factors(spec.in_channels, spec.kernel, spec.stride);
  const torch::Tensor weight =
      net.options().sharing() == LcNetSharing::kNone
          ? net.unshared_layers()[index].second->weight
          : net.conv_layers()[index].second->weight.reshape({1, spec.out_channels, -1});
  return wiring_cost_reference(weight.to(at::kDouble), factors).item<double>();
}

void measure_retinotopy(LayerAnalysis& layer, const LcNetImpl& net, int64_t index,
                        const AnalysisOptions& options) {
  const int64_t units = layer.channels * layer.height * layer.width;
  auto generator = at::detail::createCPUGenerator(options.seed + 17 * (index + 1));
  layer.rf_units = std::get<0>(at::randperm(units, generator, at::TensorOptions().dtype(at::kLong))
                                   .slice(0, 0, std::min(units, options.rf_units))
                                   .sort());
  const InputShape& input = net.options().input();
  const UnitFunction f = [&net, index](const torch::Tensor& images) {
    return lcnet_activations(net, images, index + 1).back().pre.flatten(1);
  };
  RfOptions rf;
  rf.seed = options.seed;
  layer.rf_centres = rf_centres(f, input.channels, input.height, input.width, layer.rf_units, rf);
  layer.rf_correlation =
      rf_position_correlation(layer.rf_centres, layer.coordinates.index_select(0, layer.rf_units));
}

}  // namespace

void measure_orientation(LayerAnalysis& layer, const Sheet& sheet, const torch::Tensor& responses,
                         const Gratings& gratings, const AnalysisOptions& options) {
  const torch::Tensor tuning =
      orientation_tuning(responses, gratings.orientation, options.gratings.orientations);
  layer.orientation = orientation_preference(tuning, gratings.angles);
  layer.orientation_grid = map_grid(sheet, layer.orientation.selectivity);
  layer.cortical = sheet.options().layout() != SheetLayout::kColumn;
  layer.cell_size = map_cell_size(sheet);
  layer.selective_fraction = selective_fraction(layer.orientation.selectivity);
  // Units silent for every grating have no preference: left out of the map measures.
  const torch::Tensor silent = layer.orientation.selectivity <= 0;
  const torch::Tensor preferred = at::where(
      silent, at::full_like(layer.orientation.preferred, kNan), layer.orientation.preferred);
  const torch::Tensor selectivity = at::where(
      silent, at::full_like(layer.orientation.selectivity, kNan), layer.orientation.selectivity);
  double period = kNan;  // Λ in sheet units
  if (layer.cortical) {
    const torch::Tensor map = gather_map(preferred, layer.orientation_grid);
    // Pinwheels read the polar map selectivity·e^{2iθ}: a silent unit is a cell of weight 0
    // there, which the smoothing fills from its neighbours, not a hole that would void the
    // four plaquettes around it (as measure_orientation_map does, orientation_map_measures.h).
    // (orientation_preference gives a silent unit preferred 0 and selectivity 0: the raw
    // preference and selectivity are that polar map already.)
    layer.pinwheels = find_pinwheels(gather_map(layer.orientation.preferred, layer.orientation_grid),
                                     options.pinwheels,
                                     gather_map(layer.orientation.selectivity, layer.orientation_grid));
    period = layer.pinwheels.period * layer.cell_size;
    layer.cluster_size = orientation_cluster_size(map, options.clusters) * layer.cell_size;
    layer.local_entropy = local_orientation_entropy(map, options.clusters);
  } else {
    layer.pinwheels = PinwheelResult{};
    layer.pinwheels.period = layer.pinwheels.density = kNan;
    layer.cluster_size = layer.local_entropy = kNan;
  }
  // Column sheets: pairs only within a channel (units are (c, y, x) in order).
  const torch::Tensor channel =
      layer.cortical ? torch::Tensor()
                     : at::arange(layer.coordinates.size(0), at::TensorOptions().dtype(at::kLong))
                           .div(sheet.num_positions(), "floor");
  const SmoothnessRange range = smoothness_range(period, layer.coordinates, options.smoothness);
  layer.pairs = sample_sheet_pairs(layer.coordinates, range, options.smoothness, channel);
  layer.orientation_curve =
      smoothness_curve(preferred, layer.pairs, MapDifference::kOrientation, options.seed);
  layer.selectivity_curve =
      smoothness_curve(selectivity, layer.pairs, MapDifference::kAbsolute, options.seed);
}

void measure_category(LayerAnalysis& layer, const Sheet& sheet,
                      const CategoryStatistics& statistics, const AnalysisOptions& options) {
  layer.dprime = statistics.dprime();
  std::vector<double> smoothness;
  for (int64_t k = 0; k < layer.dprime.size(0); ++k) {
    const torch::Tensor d = layer.dprime[k];
    layer.dprime_grids.push_back(map_grid(sheet, d));
    layer.patches.push_back(
        find_patches(gather_map(d, layer.dprime_grids.back()), options.patches));
    layer.dprime_curves.push_back(
        smoothness_curve(d, layer.pairs, MapDifference::kAbsolute, options.seed));
    smoothness.push_back(layer.dprime_curves.back().smoothness);
  }
  layer.category_smoothness = mean_finite(smoothness);
}

AnalysisOptions AnalysisOptions::from_config(const Config& config) {
  AnalysisOptions o;
  o.gratings.orientations = config.get_int("analysis.orientations");
  o.gratings.phases = config.get_int("analysis.phases");
  o.gratings.periods = config.get_double_list("analysis.periods");
  if (o.gratings.orientations < 8) {
    throw_usage("analysis.orientations = {}: expected at least 8", o.gratings.orientations);
  }
  if (o.gratings.phases < 4)
    throw_usage("analysis.phases = {}: expected at least 4", o.gratings.phases);
  if (o.gratings.periods.size() < 3) {
    throw_usage("analysis.periods has {} values: expected at least 3 spatial frequencies",
                o.gratings.periods.size());
  }
  for (double p : o.gratings.periods) {
    if (!(p >= 2)) throw_usage("analysis.periods: {} pixels: expected periods ≥ 2 pixels", p);
  }
  o.patches.threshold = config.get_double("analysis.dprime_threshold");
  o.patches.min_area = config.get_int("analysis.min_patch_area");
  if (o.patches.min_area < 1) {
    throw_usage("analysis.min_patch_area = {}: expected ≥ 1", o.patches.min_area);
  }
  o.max_images = config.get_int("analysis.max_images");
  if (o.max_images < 0) throw_usage("analysis.max_images = {}: expected ≥ 0", o.max_images);
  o.rf_units = config.get_int("analysis.rf_units");
  if (o.rf_units < 1) throw_usage("analysis.rf_units = {}: expected ≥ 1", o.rf_units);
  o.pinwheels.smoothing_sigma = config.get_double("analysis.pinwheel_sigma");
  if (!(o.pinwheels.smoothing_sigma >= 0)) {
    throw_usage("analysis.pinwheel_sigma = {}: expected ≥ 0", o.pinwheels.smoothing_sigma);
  }
  o.pinwheels.min_periods = config.get_double("analysis.min_periods");
  o.seed = static_cast<uint64_t>(config.get_int("train.seed"));
  o.smoothness.seed = o.seed;
  o.clusters.seed = o.seed;
  return o;
}

ModelAnalysis analyze_lcnet(const LcNetImpl& net, BatchLoader* validation,
                            const std::vector<std::string>& class_names,
                            const AnalysisOptions& options) {
  ModelAnalysis analysis;
  analysis.class_names = class_names;
  analysis.input_height = net.options().input().height;
  analysis.input_width = net.options().input().width;
  const auto& specs = net.layer_specs();
  const InputShape& input = net.options().input();
  const bool unshared = net.options().sharing() == LcNetSharing::kNone;
  const auto snrs = layer_weight_snrs(net);
  const auto lc_layers = net.unshared_layers();
  const std::vector<Sheet>& layer_sheets = net.sheets();
  for (size_t i = 0; i < specs.size(); ++i) {
    LayerAnalysis layer;
    layer.name = specs[i].name;
    layer.unshared = unshared;
    layer.channels = specs[i].out_channels;
    layer.height = specs[i].output_height;
    layer.width = specs[i].output_width;
    const Sheet& sheet = layer_sheets[i];
    if (sheet.num_units() != layer.channels * layer.height * layer.width) {
      throw_runtime("analyze_lcnet: the sheet of {} has {} units, the layer {}", layer.name,
                    sheet.num_units(), layer.channels * layer.height * layer.width);
    }
    layer.layout = sheet_layout_name(sheet.options().layout());
    layer.coordinates = sheet.coordinates();
    for (const auto& [name, snr] : snrs) {
      if (name == layer.name) layer.weight_snr = snr;
    }
    if (unshared) {
      const torch::Tensor& w = lc_layers[i].second->weight;
      layer.kernel_distance_1 = kernel_distance(w, layer.height, layer.width, 1);
      layer.kernel_distance_4 = kernel_distance(w, layer.height, layer.width, 4);
    } else {
      // One kernel everywhere: every distance is 0 by construction.
      layer.kernel_distance_1 = layer.kernel_distance_4 = 0.0;
    }
    layer.wiring_length = layer_wiring_length(net, i);
    analysis.layers.push_back(std::move(layer));
  }

  {  // Orientation: all layers from one pass of the gratings.
    torch::NoGradGuard no_grad;
    const Gratings gratings =
        make_gratings(input.channels, input.height, input.width, options.gratings);
    const auto acts = lcnet_activations(net, gratings.images);
    for (size_t i = 0; i < acts.size(); ++i) {
      measure_orientation(analysis.layers[i], layer_sheets[i], acts[i].post.flatten(1), gratings,
                          options);
    }
  }

  if (validation != nullptr && !class_names.empty()) {
    torch::NoGradGuard no_grad;
    std::vector<CategoryStatistics> statistics;
    for (const LayerAnalysis& layer : analysis.layers) {
      statistics.emplace_back(static_cast<int64_t>(class_names.size()),
                              layer.channels * layer.height * layer.width);
    }
    validation->start_epoch(0);
    int64_t seen = 0;
    while (options.max_images == 0 || seen < options.max_images) {
      std::optional<Batch> batch = validation->next();
      if (!batch) break;
      int64_t take = batch->images.size(0);
      if (options.max_images > 0) take = std::min(take, options.max_images - seen);
      const torch::Tensor images = batch->images.slice(0, 0, take);
      const torch::Tensor labels = batch->labels.slice(0, 0, take);
      const auto acts = lcnet_activations(net, images);
      for (size_t i = 0; i < acts.size(); ++i) statistics[i].add(acts[i].post.flatten(1), labels);
      seen += take;
    }
    analysis.images = seen;
    if (seen > 0) {
      for (size_t i = 0; i < analysis.layers.size(); ++i) {
        measure_category(analysis.layers[i], layer_sheets[i], statistics[i], options);
      }
    }
  }

  for (size_t i = 0; i < analysis.layers.size(); ++i) {
    measure_retinotopy(analysis.layers[i], net, static_cast<int64_t>(i), options);
  }
  return analysis;
}

nlohmann::json orientation_json(const LayerAnalysis& layer) {
  constexpr double kDegrees = 180.0 / M_PI;
  const double mean_selectivity = layer.orientation.selectivity.defined()
                                      ? layer.orientation.selectivity.mean().item<double>()
                                      : kNan;
  const double smoothness = layer.orientation_curve.smoothness;
  nlohmann::json j = {
      {"measured_as", layer.cortical ? "cortical map" : "per channel"},
      {"smoothness", json_number(layer.cortical ? smoothness : kNan)},
      {"channel_smoothness", json_number(layer.cortical ? kNan : smoothness)},
      {"selectivity_smoothness", json_number(layer.selectivity_curve.smoothness)},
      {"mean_selectivity", json_number(mean_selectivity)},
      {"selective_fraction", json_number(layer.selective_fraction)},
      // Units that answer no grating at all (selectivity 0, counted as unselective above).
      {"silent_fraction",
       json_number(layer.orientation.selectivity.defined()
                       ? (layer.orientation.selectivity <= 0).to(at::kDouble).mean().item<double>()
                       : kNan)},
      {"pinwheel_density", json_number(layer.pinwheels.density)},
      {"pinwheel_count", layer.cortical ? nlohmann::json(layer.pinwheels.counted) : nullptr},
      {"column_spacing", json_number(layer.pinwheels.period * layer.cell_size)},
      {"cluster_size", json_number(layer.cluster_size)},
      {"local_entropy", json_number(layer.local_entropy)},
      {"curve_degrees", smoothness_curve_json(layer.orientation_curve, kDegrees)},
      {"selectivity_curve", smoothness_curve_json(layer.selectivity_curve, 1.0)}};
  if (layer.cortical) {
    j["spectrum"] = spectrum_json(layer.pinwheels.spectrum, layer.cell_size);
    j["spectrum_peak_ratio"] = json_number(layer.pinwheels.peak_ratio);
    j["border_margin"] = json_number(layer.pinwheels.margin * layer.cell_size);
  }
  return j;
}

nlohmann::json category_json(const LayerAnalysis& layer,
                             const std::vector<std::string>& class_names, int64_t images) {
  if (layer.dprime.defined()) {
    int64_t total = 0;
    nlohmann::json per_class = nlohmann::json::object();
    nlohmann::json class_smoothness = nlohmann::json::object();
    for (size_t k = 0; k < layer.patches.size(); ++k) {
      const std::string& name =
          k < class_names.size() ? class_names[k] : std::to_string(k);
      per_class[name] = layer.patches[k].components.size();
      class_smoothness[name] = json_number(layer.dprime_curves[k].smoothness);
      total += static_cast<int64_t>(layer.patches[k].components.size());
    }
    return {
        {"measured_as", layer.cortical ? "cortical map" : "per channel"},
        {"smoothness", json_number(layer.cortical ? layer.category_smoothness : kNan)},
        {"channel_smoothness", json_number(layer.cortical ? kNan : layer.category_smoothness)},
        {"patches", total},
        {"patches_per_class", per_class},
        {"smoothness_per_class", class_smoothness},
        {"max_dprime", json_number(at::nan_to_num(layer.dprime, -1e300).max().item<double>())},
        {"images", images}};
  } else {
    return {{"smoothness", nullptr}, {"patches", nullptr}};
  }
}

nlohmann::json analysis_to_json(const ModelAnalysis& analysis) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerAnalysis& layer : analysis.layers) {
    nlohmann::json j;
    j["name"] = layer.name;
    j["unshared"] = layer.unshared;
    j["sheet"] = {{"layout", layer.layout},
                  {"channels", layer.channels},
                  {"height", layer.height},
                  {"width", layer.width},
                  {"cortical", layer.cortical},
                  {"cell_size", layer.cell_size},
                  {"map_height", layer.orientation_grid.defined() ? layer.orientation_grid.size(0) : 0},
                  {"map_width", layer.orientation_grid.defined() ? layer.orientation_grid.size(1) : 0}};
    j["orientation"] = orientation_json(layer);
    j["category"] = category_json(layer, analysis.class_names, analysis.images);
    j["retinotopy"] = {{"correlation", json_number(layer.rf_correlation)},
                       {"units", layer.rf_units.defined() ? layer.rf_units.size(0) : 0}};
    j["weight_snr"] = json_number(layer.weight_snr.squared);
    j["weight_snr_abs"] = json_number(layer.weight_snr.abs);
    j["kernel_distance"] = {{"radius_1", json_number(layer.kernel_distance_1)},
                            {"radius_4", json_number(layer.kernel_distance_4)}};
    j["wiring_length"] = json_number(layer.wiring_length);
    layers.push_back(std::move(j));
  }
  return {{"layers", layers}, {"classes", analysis.class_names}};
}

}  // namespace nosharing
