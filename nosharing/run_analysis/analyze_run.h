// `nosharing analyze` as a library call (the CLI, the end of `nosharing train` and `export`
// use it): read a run, load its trained model, analyse it with its model type's entry
// (run_analysis.h) — on the run's own validation images where the entry measures categories —
// and write analysis.json (DESIGN §8), the per-unit maps as maps.npz and the report.
#pragma once

#include <string>

namespace nosharing {

class Config;

// Whether analyze_run covers the model type of this config (lcnet, mapformer, wlsc); a resnet
// has unshared layers but no sheet analysis yet (its weight SNR: `nosharing info`).
bool has_map_analysis(const Config& config);

struct AnalyzeRunResult {
  std::string analysis_json;  // <out>/analysis.json
  std::string report;         // <out>/report/index.html (wlsc: <out>/report/dictionary.png)
  // <out>/maps.npz: the per-unit maps (analysis/map_arrays.h) of lcnet and mapformer runs;
  // empty for wlsc, whose dictionary is its own picture.
  std::string maps_npz;
};

// out_dir empty: the run directory. RuntimeError for a missing or corrupt run, checkpoint or
// data; UsageError for bad analysis.* values or a model type without analysis.
AnalyzeRunResult analyze_run(const std::string& run_dir, const std::string& out_dir = "");

}  // namespace nosharing
