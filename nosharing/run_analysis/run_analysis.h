// One model type's analysis of a trained run, as `nosharing analyze` sees it: what it measures,
// what it writes to analysis.json and maps.npz, and what it draws (DESIGN §5, §8). The
// pipeline (analyze_run.h) loads the run, picks the entry of its model.type and writes the
// files; an entry only analyses, converts and draws.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "nosharing/data/npz.h"
#include "nosharing/data/loader.h"
#include "nosharing/models/model.h"
#include "nosharing/train/checkpoint.h"
#include "nosharing/train/run_reader.h"

namespace nosharing {

// What an entry analyses: the run and its trained model, in eval mode.
struct RunContext {
  const RunRecord& run;
  ModelImpl& model;
  const TrainerState& state;
  // The run's validation split as labelled images, normalised as in training (null without
  // one, and for entries that do not ask for data), and the data's class names.
  BatchLoader* validation = nullptr;
  std::vector<std::string> class_names;
};

// What the report shows beside the measures: the run's name, its training curves and config.
struct ReportContext {
  std::string title;
  std::vector<nlohmann::json> metrics;  // metrics.jsonl (empty without one)
  const Config& config;
  int64_t step = 0;
  nlohmann::json analysis_json;  // as written, with "run", "step" and "schema_version"
};

class RunAnalysis {
 public:
  virtual ~RunAnalysis() = default;
  // analysis.json's body (the pipeline adds "run", "step" and "schema_version").
  virtual nlohmann::json to_json() const = 0;
  // The per-unit maps of maps.npz (analysis/map_arrays.h); empty: no maps.npz.
  virtual NamedArrays map_arrays() const { return {}; }
  // Draws the report into `report_dir` (created by the pipeline); returns the file a reader
  // opens first.
  virtual std::string draw(const std::string& report_dir, const ReportContext& context) const = 0;
};

struct RunAnalysisEntry {
  const char* model_type;
  bool uses_validation;  // analyses the run's validation images
  std::unique_ptr<RunAnalysis> (*analyse)(const RunContext& context);
};

// The entries, one per file: lcnet (every conv-shaped layer's maps and the HTML report),
// mapformer (attention fields, per-block maps, head maps), wlsc (Gabor fits of the atoms).
std::unique_ptr<RunAnalysis> analyse_lcnet_run(const RunContext& context);
std::unique_ptr<RunAnalysis> analyse_mapformer_run(const RunContext& context);
std::unique_ptr<RunAnalysis> analyse_wlsc_run(const RunContext& context);

// The entry of `model_type`, or null when it has none.
const RunAnalysisEntry* run_analysis_entry(const std::string& model_type);

}  // namespace nosharing
