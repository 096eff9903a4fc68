// lcnet runs: every conv-shaped layer measured on its own sheet (analysis/analyze.h), the
// HTML report (report/html_report.h).
#include "nosharing/analysis/analyze.h"
#include "nosharing/analysis/map_arrays.h"
#include "nosharing/core/error.h"
#include "nosharing/models/lcnet.h"
#include "nosharing/report/html_report.h"
#include "nosharing/run_analysis/run_analysis.h"

namespace nosharing {
namespace {

class LcNetRunAnalysis final : public RunAnalysis {
 public:
  explicit LcNetRunAnalysis(ModelAnalysis analysis) : analysis_(std::move(analysis)) {}

  nlohmann::json to_json() const override { return analysis_to_json(analysis_); }
  NamedArrays map_arrays() const override { return model_map_arrays(analysis_); }

  std::string draw(const std::string& report_dir, const ReportContext& context) const override {
    ReportInputs inputs;
    inputs.title = context.title;
    inputs.analysis = &analysis_;
    inputs.analysis_json = context.analysis_json;
    inputs.metrics = context.metrics;
    for (const char* key : {"model.preset", "model.sharing", "data.path"}) {
      inputs.config_summary[key] = context.config.get_string(key);
    }
    inputs.config_summary["step"] = context.step;
    return write_html_report(report_dir, inputs);
  }

 private:
  ModelAnalysis analysis_;
};

}  // namespace

std::unique_ptr<RunAnalysis> analyse_lcnet_run(const RunContext& context) {
  const AnalysisOptions options = AnalysisOptions::from_config(context.run.config);
  auto* net = dynamic_cast<LcNetImpl*>(&context.model);
  if (net == nullptr) {
    throw_runtime("{}: model.type = \"{}\", not an lcnet run", context.run.dir,
                  context.run.config.get_string("model.type"));
  }
  // Category sets: the run's own validation split (none: no category measures).
  const std::vector<std::string> classes =
      context.validation != nullptr ? context.class_names : std::vector<std::string>{};
  return std::make_unique<LcNetRunAnalysis>(
      analyze_lcnet(*net, context.validation, classes, options));
}

}  // namespace nosharing
