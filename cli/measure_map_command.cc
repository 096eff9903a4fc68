// nosharing measure-map FILE.npy [--degrees] [--selectivity FILE.npy] [--cell-size X]
//                                 [--out DIR] [--json]
// Measures any orientation map given as a 2-D NumPy array (optical imaging, another model):
// analysis/orientation_map_measures.h's numbers into DIR/measure.json and a page
// (report/map_report.h) into DIR/index.html.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "nosharing/analysis/orientation_map_measures.h"
#include "nosharing/core/error.h"
#include "nosharing/core/files.h"
#include "nosharing/data/npy.h"
#include "nosharing/report/map_report.h"

namespace nosharing::cli {
namespace measure_map_command {  // named, not anonymous: one namespace per command file

namespace fs = std::filesystem;

constexpr int64_t kMinSide = 4;      // cells on each side of a map
constexpr double kMinPeriods = 2.0;  // Λ the shorter side must span (pinwheels.h)

struct MeasureMapArgs {
  std::string file;
  bool degrees = false;
  std::string selectivity;
  double cell_size = 1.0;
  std::string out;
  bool json = false;
};

std::string shape_of(const at::Tensor& t) {
  std::string s = "(";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + (t.dim() == 1 ? ",)" : ")");
}

// The angles of `file` as radians in [0, π) (NaN = no unit), refusing what is not a map.
at::Tensor read_angles(const std::string& file, bool degrees) {
  at::Tensor theta = read_npy(file);
  if (theta.dim() != 2) {
    throw_runtime("{}: an array of shape {}; expected a 2-D map [height, width] of angles", file,
                  shape_of(theta));
  }
  if (theta.size(0) < kMinSide || theta.size(1) < kMinSide) {
    throw_runtime("{}: a {}×{} map; expected at least {} cells on each side", file, theta.size(0),
                  theta.size(1), kMinSide);
  }
  const int64_t infinite = at::isinf(theta).sum().item<int64_t>();
  if (infinite > 0) {
    throw_runtime("{}: {} infinite values; expected finite angles (NaN for no unit)", file,
                  infinite);
  }
  const at::Tensor finite = theta.masked_select(at::isfinite(theta));
  if (finite.numel() == 0) throw_runtime("{} has no finite angle (all NaN)", file);
  const double largest = finite.abs().max().item<double>();
  if (!degrees && largest > 2 * M_PI + 1e-6) {
    std::fprintf(stderr,
                 "nosharing: warning: %s: angles reach %.4g, beyond 2π: if they are degrees, "
                 "pass --degrees\n",
                 file.c_str(), largest);
  }
  if (degrees) theta = theta * (M_PI / 180.0);
  return at::remainder(theta, M_PI);  // orientation: mod 180°; NaN stays NaN
}

at::Tensor read_selectivity(const std::string& file, const std::string& map_file,
                            const at::Tensor& theta) {
  const at::Tensor s = read_npy(file);
  if (s.sizes() != theta.sizes()) {
    throw_usage("--selectivity {}: shape {}, but the map {} has shape {}; expected the same", file,
                shape_of(s), map_file, shape_of(theta));
  }
  const at::Tensor finite = s.masked_select(at::isfinite(s));
  if (finite.numel() > 0 && (finite.min().item<double>() < 0 || finite.max().item<double>() > 1)) {
    throw_runtime(
        "{}: selectivity from {:.4g} to {:.4g}; expected values in [0, 1] "
        "(1 − circular variance; NaN for no unit)",
        file, finite.min().item<double>(), finite.max().item<double>());
  }
  return s;
}

// A map with a Λ must span at least 2 Λ (a spectral peak one cycle across the map is such a
// Λ: too large to be read as a column spacing); one without a ring says so on stderr and goes
// on.
void check_span(const std::string& file, const OrientationMapMeasures& m, int64_t height,
                int64_t width) {
  const double period_cells =
      std::isfinite(m.pinwheels.period) ? m.pinwheels.period : m.pinwheels.peak_period;
  if (!std::isfinite(period_cells)) {
    std::fprintf(stderr,
                 "nosharing: %s: no column spacing: the map's spectrum has no ring (peak %.2g× "
                 "the median; a ring needs 3×), so column_spacing and pinwheel_density are null "
                 "(as for a salt-and-pepper map)\n",
                 file.c_str(), m.pinwheels.peak_ratio);
    return;
  }
  const int64_t side = std::min(height, width);
  const double spans = static_cast<double>(side) / period_cells;
  if (spans < kMinPeriods) {
    throw_runtime(
        "{}: the map's shorter side ({} cells) spans {:.2g} Λ (Λ = {:.3g} cells); "
        "expected at least {:g} Λ to measure pinwheels and smoothness",
        file, side, spans, period_cells, kMinPeriods);
  }
}

// Default output folder: `<stem>_map` in the current directory.
std::string default_out(const std::string& file) { return fs::path(file).stem().string() + "_map"; }

int run_measure_map(const MeasureMapArgs& args) {
  if (!(args.cell_size > 0) || !std::isfinite(args.cell_size)) {
    throw_usage("--cell-size {}: expected a number > 0 (sheet units per cell)", args.cell_size);
  }
  const at::Tensor theta = read_angles(args.file, args.degrees);
  const at::Tensor selectivity = args.selectivity.empty()
                                     ? at::Tensor()
                                     : read_selectivity(args.selectivity, args.file, theta);
  const int64_t height = theta.size(0), width = theta.size(1);
  const OrientationMapMeasures measures =
      measure_orientation_map(theta, selectivity, args.cell_size);
  check_span(args.file, measures, height, width);

  nlohmann::json json = orientation_map_json(measures, height, width);
  json["file"] = args.file;
  json["units"] = args.degrees ? "degrees" : "radians";
  json["selectivity_file"] =
      args.selectivity.empty() ? nlohmann::json(nullptr) : nlohmann::json(args.selectivity);

  const std::string out = args.out.empty() ? default_out(args.file) : args.out;
  std::error_code error;
  fs::create_directories(out, error);
  if (error) throw_runtime("{}: cannot create the output folder ({})", out, error.message());
  write_file_atomic(out + "/measure.json", json.dump(2) + "\n");
  MapReportInputs inputs;
  inputs.title = fs::path(args.file).filename().string();
  inputs.theta = theta;
  inputs.selectivity = selectivity;
  inputs.measures = &measures;
  inputs.json = json;
  const std::string index = write_map_report(out, inputs);

  if (args.json) {
    std::printf("%s\n", json.dump(2).c_str());
    return 0;
  }
  const double density = measures.pinwheels.density;
  const std::string spacing = std::isfinite(measures.period())
                                  ? fmt::format("{:.3g}", measures.period())
                                  : std::string("none");
  const std::string pinwheels = std::isfinite(density)
                                    ? fmt::format("{:.3g} pinwheels per Λ² ({} counted)", density,
                                                  measures.pinwheels.counted)
                                    : std::string("no pinwheel density");
  fmt::print("Λ {}, {}, smoothness {:.3f}\n", spacing, pinwheels, measures.curve.smoothness);
  std::printf("measure %s/measure.json\n%s\n", out.c_str(), index.c_str());
  return 0;
}

}  // namespace measure_map_command

void add_measure_map_command(CLI::App& app, CommandRun& run) {
  using namespace measure_map_command;
  auto args = std::make_shared<MeasureMapArgs>();
  CLI::App* sub = app.add_subcommand(
      "measure-map",
      "measure an orientation map given as a 2-D .npy array of angles (NaN = no unit): "
      "column spacing, pinwheels, smoothness with chance, cluster size, entropy, spectrum; "
      "writes DIR/measure.json and DIR/index.html and prints the index.html path");
  sub->add_option("FILE", args->file,
                  "the map: .npy, float32/float64 [height, width], C or Fortran order")
      ->required();
  sub->add_flag("--degrees", args->degrees,
                "angles are in degrees (default: radians); orientation is taken mod 180°");
  sub->add_option("--selectivity", args->selectivity,
                  "FILE.npy of the same shape, values in [0, 1] (1 − circular variance): "
                  "the selective fraction and the map's brightness");
  sub->add_option("--cell-size", args->cell_size,
                  "sheet units per cell (e.g. µm per pixel), > 0; scales Λ, distances and "
                  "cluster size (default 1)");
  sub->add_option("--out", args->out,
                  "output folder, created if missing; files in it are replaced (default: "
                  "<FILE stem>_map in the current directory)");
  sub->add_flag("--json", args->json, "print measure.json to stdout instead of the paths");
  sub->callback([args, &run] { run = [args] { return run_measure_map(*args); }; });
}

}  // namespace nosharing::cli
