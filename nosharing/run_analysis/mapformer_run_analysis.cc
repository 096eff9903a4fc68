// mapformer runs: attention fields, per-block feature and category maps, the head's class
// maps (analysis/mapformer_analysis.h), drawn by report/mapformer_report.h.
#include "nosharing/analysis/analyze.h"
#include "nosharing/analysis/map_arrays.h"
#include "nosharing/analysis/mapformer_analysis.h"
#include "nosharing/core/error.h"
#include "nosharing/models/mapformer.h"
#include "nosharing/report/mapformer_report.h"
#include "nosharing/run_analysis/run_analysis.h"

namespace nosharing {
namespace {

class MapformerRunAnalysis final : public RunAnalysis {
 public:
  explicit MapformerRunAnalysis(MapformerAnalysis analysis) : analysis_(std::move(analysis)) {}

  nlohmann::json to_json() const override { return mapformer_analysis_to_json(analysis_); }
  NamedArrays map_arrays() const override { return mapformer_map_arrays(analysis_); }

  std::string draw(const std::string& report_dir, const ReportContext& context) const override {
    nlohmann::json summary;
    summary["model.preset"] = context.config.get_string("model.preset");
    summary["model.layerwise"] = context.config.get_bool("model.layerwise");
    summary["data.path"] = context.config.get_string("data.path");
    summary["step"] = context.step;
    return write_mapformer_html(report_dir, context.title, analysis_, context.metrics, summary);
  }

 private:
  MapformerAnalysis analysis_;
};

}  // namespace

std::unique_ptr<RunAnalysis> analyse_mapformer_run(const RunContext& context) {
  const AnalysisOptions options = AnalysisOptions::from_config(context.run.config);
  auto* mapformer = dynamic_cast<MapformerImpl*>(&context.model);
  if (mapformer == nullptr) {
    throw_runtime("{}: model.type = \"{}\", not a mapformer run", context.run.dir,
                  context.run.config.get_string("model.type"));
  }
  return std::make_unique<MapformerRunAnalysis>(
      analyze_mapformer(*mapformer, context.validation, context.class_names, options));
}

}  // namespace nosharing
