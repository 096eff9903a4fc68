#include "nosharing/report/analyze_run.h"

#include <filesystem>

#include "nosharing/analysis/analyze.h"
#include "nosharing/analysis/map_arrays.h"
#include "nosharing/core/error.h"
#include "nosharing/core/threads.h"
#include "nosharing/models/lcnet.h"
#include "nosharing/report/html_report.h"
#include "nosharing/report/mapformer_report.h"
#include "nosharing/report/wlsc_report.h"
#include "nosharing/train/checkpoint.h"
#include "nosharing/train/metrics_log.h"
#include "nosharing/train/run_data.h"
#include "nosharing/train/run_directory.h"
#include "nosharing/train/run_reader.h"

namespace nosharing {

bool has_map_analysis(const Config& config) {
  const std::string type = config.get_string("model.type");
  return type == "lcnet" || type == "mapformer" || type == "wlsc";
}

AnalyzeRunResult analyze_run(const std::string& run_dir, const std::string& out_dir) {
  namespace fs = std::filesystem;
  const RunRecord run = read_run(run_dir);
  const std::string out = out_dir.empty() ? run_dir : out_dir;
  if (run.config.get_string("model.type") == "wlsc") {
    // Sparse coding has atoms, not responses to gratings: its own analysis (Gabor fits).
    const WlscReportFiles wlsc = write_wlsc_report(run_dir, out_dir);
    return {wlsc.analysis_json, wlsc.dictionary_png, /*maps_npz=*/""};
  }
  if (run.config.get_string("model.type") == "mapformer") {
    // Columns with attention, not conv-shaped layers: attention fields, head maps, wiring.
    const MapformerReportFiles mapformer = write_mapformer_report(run_dir, out_dir);
    return {mapformer.analysis_json, mapformer.report, mapformer.maps_npz};
  }
  const AnalysisOptions options = AnalysisOptions::from_config(run.config);
  set_compute_threads(static_cast<int>(run.config.get_int("train.threads")));
  TrainerState state;
  Model model = load_trained_model(run, &state);
  const auto net = std::dynamic_pointer_cast<LcNetImpl>(model);
  if (!net) {
    throw_usage("{}/config.toml: model.type = {}: analysis covers lcnet, mapformer and wlsc models",
                run_dir,
                run.config.get_string("model.type"));
  }
  net->eval();

  // Category sets: the run's own validation split, normalised as in training.
  const RunData data = load_run_data(run.config);
  std::unique_ptr<BatchLoader> validation;
  std::vector<std::string> classes;
  if (data.split.val.numel() > 0 && data.num_classes > 0) {
    validation = make_eval_loader(run.config, data.train_set, data.split.val, data.normalization);
    classes = data.train_set.class_names;
  }
  const ModelAnalysis analysis = analyze_lcnet(*net, validation.get(), classes, options);

  nlohmann::json json = analysis_to_json(analysis);
  json["run"] = run_dir;
  json["step"] = state.step;
  json["schema_version"] = 1;
  std::error_code error;
  fs::create_directories(out, error);
  if (error) throw_runtime("--out {}: cannot create the folder ({})", out, error.message());
  AnalyzeRunResult result;
  result.analysis_json = out + "/analysis.json";
  write_json_atomic(result.analysis_json, json);
  result.maps_npz = out + "/maps.npz";
  write_npz(result.maps_npz, model_map_arrays(analysis));

  ReportInputs inputs;
  inputs.title = fs::path(run_dir).lexically_normal().filename().string();
  if (inputs.title.empty()) inputs.title = run_dir;
  inputs.analysis = &analysis;
  inputs.analysis_json = json;
  const std::string metrics = run_dir + "/metrics.jsonl";
  if (fs::is_regular_file(metrics)) inputs.metrics = read_metrics(metrics);
  for (const char* key : {"model.preset", "model.sharing", "data.path"}) {
    inputs.config_summary[key] = run.config.get_string(key);
  }
  inputs.config_summary["step"] = state.step;
  result.report = write_html_report(out + "/report", inputs);
  return result;
}

}  // namespace nosharing
