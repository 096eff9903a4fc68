// wlsc runs: a Gabor fitted to every atom (good fit: R² ≥ wlsc.good_fit_r2 and the centre
// inside the patch; analysis/wlsc_analysis.h), drawn as the dictionary, the sheet's
// orientation map and Ringach's plane (report/wlsc_figures.h). Sparse coding has atoms, not
// responses to gratings, and no labels: no validation images.
#include "nosharing/analysis/wlsc_analysis.h"
#include "nosharing/core/error.h"
#include "nosharing/models/wlsc.h"
#include "nosharing/report/wlsc_figures.h"
#include "nosharing/run_analysis/run_analysis.h"

namespace nosharing {
namespace {

class WlscRunAnalysis final : public RunAnalysis {
 public:
  explicit WlscRunAnalysis(WlscAnalysis analysis) : analysis_(std::move(analysis)) {}

  nlohmann::json to_json() const override { return wlsc_analysis_to_json(analysis_); }

  // <report_dir>/dictionary.png (returned), orientation_map.png and ringach_plane.svg.
  std::string draw(const std::string& report_dir, const ReportContext&) const override {
    const std::string dictionary = report_dir + "/dictionary.png";
    write_dictionary_png(dictionary, analysis_);
    write_orientation_map_png(report_dir + "/orientation_map.png", analysis_);
    write_ringach_plane_svg(report_dir + "/ringach_plane.svg", analysis_);
    return dictionary;
  }

 private:
  WlscAnalysis analysis_;
};

}  // namespace

std::unique_ptr<RunAnalysis> analyse_wlsc_run(const RunContext& context) {
  const auto* wlsc = dynamic_cast<const WlscImpl*>(&context.model);
  if (wlsc == nullptr) {
    throw_runtime("{}: model.type = \"{}\", not a wlsc run", context.run.dir,
                  context.run.config.get_string("model.type"));
  }
  return std::make_unique<WlscRunAnalysis>(
      analyze_wlsc(*wlsc, context.run.input_shape.height, context.run.input_shape.width,
                   context.run.config.get_double("wlsc.good_fit_r2")));
}

}  // namespace nosharing
