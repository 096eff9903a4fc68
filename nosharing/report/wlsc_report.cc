#include "nosharing/report/wlsc_report.h"

#include <filesystem>

#include "nosharing/core/error.h"
#include "nosharing/core/files.h"
#include "nosharing/report/wlsc_figures.h"
#include "nosharing/train/run_reader.h"

namespace nosharing {

WlscReportFiles write_wlsc_report(const std::string& run_dir, const std::string& out_dir) {
  const RunRecord run = read_run(run_dir);
  Model model = load_trained_model(run);
  const auto* wlsc = dynamic_cast<const WlscImpl*>(model.get());
  if (wlsc == nullptr) {
    throw_runtime("{}: model.type = \"{}\", not a wlsc run", run_dir,
                  run.config.get_string("model.type"));
  }
  const std::string out = out_dir.empty() ? run_dir : out_dir;
  std::filesystem::create_directories(out + "/report");
  WlscReportFiles files;
  files.analysis = analyze_wlsc(*wlsc, run.input_shape.height, run.input_shape.width,
                                run.config.get_double("wlsc.good_fit_r2"));
  files.analysis_json = out + "/analysis.json";
  files.dictionary_png = out + "/report/dictionary.png";
  files.orientation_png = out + "/report/orientation_map.png";
  files.ringach_svg = out + "/report/ringach_plane.svg";
  write_file_atomic(files.analysis_json, wlsc_analysis_to_json(files.analysis).dump(2) + "\n");
  write_dictionary_png(files.dictionary_png, files.analysis);
  write_orientation_map_png(files.orientation_png, files.analysis);
  write_ringach_plane_svg(files.ringach_svg, files.analysis);
  return files;
}

}  // namespace nosharing
