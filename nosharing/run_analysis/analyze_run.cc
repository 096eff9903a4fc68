#include "nosharing/run_analysis/analyze_run.h"

#include <filesystem>

#include "nosharing/core/error.h"
#include "nosharing/core/json_file.h"
#include "nosharing/core/threads.h"
#include "nosharing/run_analysis/run_analysis.h"
#include "nosharing/train/metrics_log.h"
#include "nosharing/train/run_data.h"

namespace nosharing {

const RunAnalysisEntry* run_analysis_entry(const std::string& model_type) {
  static const RunAnalysisEntry kEntries[] = {
      {"lcnet", /*uses_validation=*/true, analyse_lcnet_run},
      {"mapformer", /*uses_validation=*/true, analyse_mapformer_run},
      {"wlsc", /*uses_validation=*/false, analyse_wlsc_run},
  };
  for (const RunAnalysisEntry& entry : kEntries) {
    if (model_type == entry.model_type) return &entry;
  }
  return nullptr;
}

bool has_map_analysis(const Config& config) {
  return run_analysis_entry(config.get_string("model.type")) != nullptr;
}

AnalyzeRunResult analyze_run(const std::string& run_dir, const std::string& out_dir) {
  namespace fs = std::filesystem;
  const RunRecord run = read_run(run_dir);
  const RunAnalysisEntry* entry = run_analysis_entry(run.config.get_string("model.type"));
  if (entry == nullptr) {
    throw_usage("{}/config.toml: model.type = {}: analysis covers lcnet, mapformer and wlsc models",
                run_dir, run.config.get_string("model.type"));
  }
  set_compute_threads(static_cast<int>(run.config.get_int("train.threads")));
  TrainerState state;
  Model model = load_trained_model(run, &state);
  model->eval();

  // Category sets: the run's own validation split, normalised as in training.
  RunContext context{run, *model, state, /*validation=*/nullptr, /*class_names=*/{}};
  RunData data;
  std::unique_ptr<BatchLoader> validation;
  if (entry->uses_validation) {
    data = load_run_data(run.config);
    context.class_names = data.train_set.class_names;
    if (data.split.val.numel() > 0 && data.num_classes > 0) {
      validation = make_eval_loader(run.config, data.train_set, data.split.val, data.normalization);
      context.validation = validation.get();
    }
  }
  const std::unique_ptr<RunAnalysis> analysis = entry->analyse(context);

  nlohmann::json json = analysis->to_json();
  json["run"] = run_dir;
  json["step"] = state.step;
  json["schema_version"] = 1;
  const std::string out = out_dir.empty() ? run_dir : out_dir;
  std::error_code error;
  fs::create_directories(out + "/report", error);
  if (error) throw_runtime("--out {}: cannot create the folder ({})", out, error.message());
  AnalyzeRunResult result;
  result.analysis_json = out + "/analysis.json";
  write_json_atomic(result.analysis_json, json);
  const NamedArrays maps = analysis->map_arrays();
  if (!maps.empty()) {
    result.maps_npz = out + "/maps.npz";
    write_npz(result.maps_npz, maps);
  }

  ReportContext report{fs::path(run_dir).lexically_normal().filename().string(), {}, run.config,
                       state.step, json};
  if (report.title.empty()) report.title = run_dir;
  const std::string metrics = run_dir + "/metrics.jsonl";
  if (fs::is_regular_file(metrics)) report.metrics = read_metrics(metrics);
  result.report = analysis->draw(out + "/report", report);
  return result;
}

}  // namespace nosharing
