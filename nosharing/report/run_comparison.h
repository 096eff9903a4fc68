// Several run directories read side by side, for `nosharing compare` (how a sweep, e.g. of
// a loss weight, is read): the configuration keys whose values differ, each run's final
// validation accuracy, speed and length, and its per-layer map measures from analysis.json.
// Numbers only: run_analysis/compare_runs.h reads them from the runs, compare_page draws them.
#pragma once

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nosharing/core/config.h"

namespace nosharing {

// One layer's measures from a run's analysis.json; NaN where the file has null or nothing.
struct ComparedLayer {
  std::string name;
  std::string layout;  // sheet.layout ("" when absent)
  // The layer's smoothness: orientation.smoothness (cortical sheets), else
  // orientation.channel_smoothness (column sheets, DESIGN §5); `smoothness_kind` says which
  // ("orientation", "channel", or "" when neither is measured).
  double smoothness = NAN;
  std::string smoothness_kind;
  double pinwheel_density = NAN;
  double selective_fraction = NAN;
  double column_spacing = NAN;
  double category_smoothness = NAN;
  double patches = NAN;  // a count
  double wiring_length = NAN;
  double weight_snr = NAN;
};

// One "eval" line of the validation split.
struct ValidationPoint {
  int64_t step = 0;
  int64_t epoch = 0;
  double accuracy = NAN;  // NaN for unlabelled models (wlsc)
};

struct ComparedRun {
  std::string dir;    // as given
  std::string name;   // the directory's own name
  std::string label;  // the differing keys as key=value, or `name` when nothing differs
  Config config;      // config.toml
  // The last validation evaluation (step and epoch -1 when the run has none).
  double accuracy = NAN;
  int64_t accuracy_step = -1;
  int64_t accuracy_epoch = -1;
  double images_per_second = NAN;  // median over the "train" lines
  int64_t epochs = 0;              // epoch of the last metrics line
  int64_t steps = 0;               // step of the last metrics line
  std::vector<ValidationPoint> validation;
  bool analysed = false;  // analysis.json exists
  std::vector<ComparedLayer> layers;
  double wiring_length = NAN;  // sum over the layers that report one
  int smoothness_layer = -1;   // index of the first layer with a smoothness, or -1
};

struct RunComparison {
  std::vector<ComparedRun> runs;
  // Config keys (schema order) whose values differ between at least two runs, without
  // kComparisonIgnoredKeys.
  std::vector<std::string> differing_keys;
  // Those of model.preset, model.type and data.path that differ: the runs are of different
  // models or data, and the page says so.
  std::vector<std::string> model_or_data_keys;
  // The validation curves' x axis: "epoch" when every run evaluated once per epoch,
  // otherwise "step".
  std::string curve_x = "step";
};

// Keys that differ between machines or invocations without changing what was learned.
inline const std::vector<std::string> kComparisonIgnoredKeys = {"train.threads", "data.threads"};

// The comparison as compare.json (NaN written as null).
nlohmann::json comparison_to_json(const RunComparison& comparison);

// "key=value" as --set takes it: strings bare, everything else as TOML.
std::string comparison_key_value(const Config& config, const std::string& key);

}  // namespace nosharing
