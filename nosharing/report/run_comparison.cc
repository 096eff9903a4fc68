#include "nosharing/report/run_comparison.h"

#include <cmath>
#include <variant>

#include "nosharing/core/json_number.h"

namespace nosharing {
namespace {

nlohmann::json comparison_config_json(const ConfigValue& value) {
  return std::visit([](const auto& v) { return nlohmann::json(v); }, value);
}

nlohmann::json comparison_optional_count(int64_t value) {
  return value >= 0 ? nlohmann::json(value) : nlohmann::json(nullptr);
}

nlohmann::json compared_layer_json(const ComparedLayer& layer) {
  return {
      {"name", layer.name},
      {"layout", layer.layout.empty() ? nlohmann::json(nullptr) : nlohmann::json(layer.layout)},
      {"smoothness", json_number(layer.smoothness)},
      {"smoothness_kind", layer.smoothness_kind.empty() ? nlohmann::json(nullptr)
                                                        : nlohmann::json(layer.smoothness_kind)},
      {"pinwheel_density", json_number(layer.pinwheel_density)},
      {"selective_fraction", json_number(layer.selective_fraction)},
      {"column_spacing", json_number(layer.column_spacing)},
      {"category_smoothness", json_number(layer.category_smoothness)},
      {"patches", std::isfinite(layer.patches) ? nlohmann::json(std::llround(layer.patches))
                                               : nlohmann::json(nullptr)},
      {"wiring_length", json_number(layer.wiring_length)},
      {"weight_snr", json_number(layer.weight_snr)}};
}

nlohmann::json compared_run_json(const ComparedRun& run,
                                 const std::vector<std::string>& differing_keys) {
  nlohmann::json config = nlohmann::json::object();
  for (const std::string& key : differing_keys)
    config[key] = comparison_config_json(run.config.get(key));
  nlohmann::json layers = nlohmann::json::array();
  for (const ComparedLayer& layer : run.layers) layers.push_back(compared_layer_json(layer));
  nlohmann::json smoothness = nullptr;
  if (run.smoothness_layer >= 0) {
    const ComparedLayer& layer = run.layers[static_cast<size_t>(run.smoothness_layer)];
    smoothness = {{"layer", layer.name},
                  {"kind", layer.smoothness_kind},
                  {"value", json_number(layer.smoothness)}};
  }
  nlohmann::json steps = nlohmann::json::array(), epochs = nlohmann::json::array(),
                 accuracies = nlohmann::json::array();
  for (const ValidationPoint& p : run.validation) {
    steps.push_back(p.step);
    epochs.push_back(p.epoch);
    accuracies.push_back(json_number(p.accuracy));
  }
  return {{"dir", run.dir},
          {"name", run.name},
          {"label", run.label},
          {"config", config},
          {"model",
           {{"preset", run.config.get_string("model.preset")},
            {"type", run.config.get_string("model.type")}}},
          {"data_path", run.config.get_string("data.path")},
          {"accuracy", json_number(run.accuracy)},
          {"accuracy_step", comparison_optional_count(run.accuracy_step)},
          {"accuracy_epoch", comparison_optional_count(run.accuracy_epoch)},
          {"images_per_second", json_number(run.images_per_second)},
          {"epochs", run.epochs},
          {"steps", run.steps},
          {"analysed", run.analysed},
          {"wiring_length", json_number(run.wiring_length)},
          {"smoothness", smoothness},
          {"layers", layers},
          {"validation", {{"step", steps}, {"epoch", epochs}, {"accuracy", accuracies}}}};
}

}  // namespace

std::string comparison_key_value(const Config& config, const std::string& key) {
  const ConfigValue& value = config.get(key);
  if (const auto* text = std::get_if<std::string>(&value)) return key + "=" + *text;
  return key + "=" + config_value_to_toml(value);
}

nlohmann::json comparison_to_json(const RunComparison& comparison) {
  nlohmann::json runs = nlohmann::json::array();
  for (const ComparedRun& run : comparison.runs) {
    runs.push_back(compared_run_json(run, comparison.differing_keys));
  }
  return {{"schema_version", 1},
          {"runs", runs},
          {"differing_keys", comparison.differing_keys},
          {"ignored_keys", kComparisonIgnoredKeys},
          {"different_models_or_data", !comparison.model_or_data_keys.empty()},
          {"model_or_data_keys", comparison.model_or_data_keys},
          {"curve_x", comparison.curve_x}};
}

}  // namespace nosharing
