// `wlsc` runs: analysis.json and the report's pictures from a trained run directory.
#pragma once

#include <string>

#include "nosharing/analysis/wlsc_analysis.h"

namespace nosharing {

struct WlscReportFiles {
  std::string analysis_json;    // <out>/analysis.json
  std::string dictionary_png;   // <out>/report/dictionary.png
  std::string orientation_png;  // <out>/report/orientation_map.png
  std::string ringach_svg;      // <out>/report/ringach_plane.svg
  WlscAnalysis analysis;
};

// Loads the run's trained wlsc model, fits a Gabor to every atom (good fit: R² ≥
// wlsc.good_fit_r2 and centre inside the patch) and writes the files above into `out_dir`
// (empty: the run directory). RuntimeError naming the run when it is not a wlsc run.
WlscReportFiles write_wlsc_report(const std::string& run_dir, const std::string& out_dir = "");

}  // namespace nosharing
