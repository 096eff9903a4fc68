#include "nosharing/run_analysis/compare_runs.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <initializer_list>
#include <map>

#include "nosharing/core/error.h"
#include "nosharing/core/json_file.h"
#include "nosharing/core/json_number.h"
#include "nosharing/train/metrics_log.h"

namespace nosharing {
namespace {

// The number at `path` in `j`, or NaN when a step is missing, null or not a number (every
// measure of analysis.json may be null or absent).
double comparison_json_number(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* node = &j;
  for (const char* key : path) {
    if (!node->is_object()) return NAN;
    const auto it = node->find(key);
    if (it == node->end()) return NAN;
    node = &*it;
  }
  return node->is_number() ? node->get<double>() : NAN;
}

std::string comparison_json_string(const nlohmann::json& j,
                                   std::initializer_list<const char*> path) {
  const nlohmann::json* node = &j;
  for (const char* key : path) {
    if (!node->is_object()) return "";
    const auto it = node->find(key);
    if (it == node->end()) return "";
    node = &*it;
  }
  return node->is_string() ? node->get<std::string>() : "";
}

// An integer-valued entry as int64_t, or `fallback` when it is missing.
int64_t comparison_json_int(const nlohmann::json& j, const char* key, int64_t fallback) {
  const double value = comparison_json_number(j, {key});
  return std::isfinite(value) ? std::llround(value) : fallback;
}

double comparison_median(std::vector<double> values) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

// The run directory's own name, also for "runs/a/" and ".".
std::string comparison_dir_name(const std::string& dir) {
  std::filesystem::path path = std::filesystem::absolute(dir).lexically_normal();
  if (!path.has_filename()) path = path.parent_path();
  return path.filename().string();
}

void read_compared_metrics(const std::string& path, ComparedRun& run) {
  std::vector<double> speeds;
  for (const nlohmann::json& line : read_metrics(path)) {
    run.steps = comparison_json_int(line, "step", run.steps);
    run.epochs = comparison_json_int(line, "epoch", run.epochs);
    const std::string kind = comparison_json_string(line, {"kind"});
    if (kind == "train") {
      const double speed = comparison_json_number(line, {"images_per_second"});
      if (std::isfinite(speed)) speeds.push_back(speed);
    } else if (kind == "eval" && comparison_json_string(line, {"split"}) == "val") {
      run.validation.push_back({comparison_json_int(line, "step", 0),
                                comparison_json_int(line, "epoch", 0),
                                comparison_json_number(line, {"accuracy"})});
    }
  }
  run.images_per_second = comparison_median(std::move(speeds));
  if (!run.validation.empty()) {
    run.accuracy = run.validation.back().accuracy;
    run.accuracy_step = run.validation.back().step;
    run.accuracy_epoch = run.validation.back().epoch;
  }
}

ComparedLayer read_compared_layer(const nlohmann::json& j) {
  ComparedLayer layer;
  layer.name = comparison_json_string(j, {"name"});
  layer.layout = comparison_json_string(j, {"sheet", "layout"});
  layer.smoothness = comparison_json_number(j, {"orientation", "smoothness"});
  layer.smoothness_kind = "orientation";
  if (!std::isfinite(layer.smoothness)) {
    layer.smoothness = comparison_json_number(j, {"orientation", "channel_smoothness"});
    layer.smoothness_kind = std::isfinite(layer.smoothness) ? "channel" : "";
  }
  layer.pinwheel_density = comparison_json_number(j, {"orientation", "pinwheel_density"});
  layer.selective_fraction = comparison_json_number(j, {"orientation", "selective_fraction"});
  layer.column_spacing = comparison_json_number(j, {"orientation", "column_spacing"});
  layer.category_smoothness = comparison_json_number(j, {"category", "smoothness"});
  layer.patches = comparison_json_number(j, {"category", "patches"});
  layer.wiring_length = comparison_json_number(j, {"wiring_length"});
  // The Mapformer's blocks report their attention's wiring length with the attention.
  if (!std::isfinite(layer.wiring_length)) {
    layer.wiring_length = comparison_json_number(j, {"attention", "wiring_length"});
  }
  layer.weight_snr = comparison_json_number(j, {"weight_snr"});
  return layer;
}

void read_compared_analysis(const nlohmann::json& analysis, ComparedRun& run) {
  run.analysed = true;
  const auto layers = analysis.find("layers");
  if (layers == analysis.end() || !layers->is_array()) return;
  double wiring = 0;
  bool any_wiring = false;
  for (const nlohmann::json& j : *layers) {
    run.layers.push_back(read_compared_layer(j));
    const ComparedLayer& layer = run.layers.back();
    if (std::isfinite(layer.wiring_length)) wiring += layer.wiring_length, any_wiring = true;
    if (run.smoothness_layer < 0 && std::isfinite(layer.smoothness)) {
      run.smoothness_layer = static_cast<int>(run.layers.size()) - 1;
    }
  }
  run.wiring_length = any_wiring ? wiring : NAN;
}

std::vector<std::string> differing_config_keys(const std::vector<ComparedRun>& runs) {
  std::vector<std::string> keys;
  for (const ConfigKeySpec& spec : config_schema()) {
    if (std::find(kComparisonIgnoredKeys.begin(), kComparisonIgnoredKeys.end(), spec.key) !=
        kComparisonIgnoredKeys.end()) {
      continue;
    }
    const std::string first = config_value_to_toml(runs.front().config.get(spec.key));
    for (const ComparedRun& run : runs) {
      if (config_value_to_toml(run.config.get(spec.key)) != first) {
        keys.push_back(spec.key);
        break;
      }
    }
  }
  return keys;
}

// key=value for every differing key; runs that would share a label (a sweep point run
// twice) get their directory name added.
void label_compared_runs(RunComparison& comparison) {
  std::map<std::string, int> uses;
  for (ComparedRun& run : comparison.runs) {
    std::string label;
    for (const std::string& key : comparison.differing_keys) {
      label += (label.empty() ? "" : ", ") + comparison_key_value(run.config, key);
    }
    run.label = label.empty() ? run.name : label;
    ++uses[run.label];
  }
  for (ComparedRun& run : comparison.runs) {
    if (uses[run.label] > 1 && run.label != run.name) run.label += " (" + run.name + ")";
  }
}

// Epochs are comparable across batch sizes, but an "eval" line carries the epoch number
// only: with evaluations inside an epoch (train.eval_every) only steps order them.
bool comparison_evaluated_once_per_epoch(const std::vector<ComparedRun>& runs) {
  bool any = false;
  for (const ComparedRun& run : runs) {
    for (size_t i = 0; i < run.validation.size(); ++i) {
      any = true;
      if (i > 0 && run.validation[i].epoch <= run.validation[i - 1].epoch) return false;
    }
  }
  return any;
}

}  // namespace

ComparedRun read_compared_run(const std::string& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw_runtime("compare: {}: no such run directory", dir);
  if (!fs::is_regular_file(dir + "/config.toml")) {
    throw_runtime("compare: {}: not a run directory (no config.toml)", dir);
  }
  ComparedRun run;
  run.dir = dir;
  run.name = comparison_dir_name(dir);
  run.config = Config::load_run_config(dir + "/config.toml");
  read_compared_metrics(dir + "/metrics.jsonl", run);
  const std::string analysis = dir + "/analysis.json";
  if (fs::is_regular_file(analysis)) read_compared_analysis(read_json_file(analysis), run);
  return run;
}

RunComparison compare_runs(const std::vector<std::string>& dirs) {
  if (dirs.size() < 2) {
    throw_usage(
        "compare: expected at least two run directories (nosharing compare RUN RUN...), "
        "got {}",
        dirs.size());
  }
  RunComparison comparison;
  for (const std::string& dir : dirs) comparison.runs.push_back(read_compared_run(dir));
  comparison.differing_keys = differing_config_keys(comparison.runs);
  for (const char* key : {"model.preset", "model.type", "data.path"}) {
    if (std::find(comparison.differing_keys.begin(), comparison.differing_keys.end(), key) !=
        comparison.differing_keys.end()) {
      comparison.model_or_data_keys.push_back(key);
    }
  }
  label_compared_runs(comparison);
  comparison.curve_x = comparison_evaluated_once_per_epoch(comparison.runs) ? "epoch" : "step";
  return comparison;
}

}  // namespace nosharing
