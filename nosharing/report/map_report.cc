#include "nosharing/report/map_report.h"

#include <fmt/format.h>

#include <cmath>

#include "nosharing/core/error.h"
#include "nosharing/core/files.h"
#include "nosharing/report/html_report.h"
#include "nosharing/report/map_figures.h"
#include "nosharing/report/svg.h"

namespace nosharing {
namespace map_report_internal {  // named, not anonymous: the library compiles in unity batches

constexpr int kMapPagePixels = 512;      // the map is the page's main figure
constexpr double kPinwheelPixels = 3.5;  // disc radius on it

std::string number_or_dash(const nlohmann::json& value, const char* format = "{:.3g}") {
  if (value.is_number()) return fmt::format(fmt::runtime(format), value.get<double>());
  return "–";
}

// The spectrum's peak over its median: 1.6, 34, 1130.
std::string ratio_text(const nlohmann::json& value) {
  if (!value.is_number()) return "–";
  const double r = value.get<double>();
  return fmt::format(r >= 10 ? "{:.0f}" : "{:.2g}", r);
}

// The numbers of the measure-map JSON as a table: measure, value, what it means.
std::string numbers_table(const nlohmann::json& j) {
  const auto row = [](const std::string& name, const std::string& value, const std::string& note) {
    return fmt::format("<tr><th>{}</th><td>{}</td><td class=\"what\">{}</td></tr>\n", name,
                       xml_escape(value), note);
  };
  std::string t = "<table>\n";
  t += row("map", fmt::format("{} × {}", j["height"].dump(), j["width"].dump()),
           fmt::format("cells (height × width); sheet units per cell: {}",
                       number_or_dash(j["cell_size"])));
  t += row("column spacing Λ", number_or_dash(j["column_spacing"]),
           fmt::format("sheet units, from the spectrum's ring (peak {}× the median; a ring needs "
                       "3×)",
                       ratio_text(j["spectrum_peak_ratio"])));
  const std::string density_note =
      j["pinwheel_density"].is_number()
          ? fmt::format(
                "per Λ², {} counted at least {} sheet units (½ Λ) inside the border, of "
                "{} found; animals and Gaussian random fields: π ≈ 3.14",
                j["pinwheels_counted"].dump(), number_or_dash(j["border_margin"]),
                j["pinwheel_count"].dump())
          : fmt::format(
                "none without a Λ, or on a map spanning fewer than 2 Λ ({} plaquettes "
                "wind by ±½ turn)",
                j["pinwheel_count"].dump());
  t += row("pinwheel density", number_or_dash(j["pinwheel_density"]), density_note);
  t += row("smoothness s", number_or_dash(j["smoothness"], "{:.3f}"),
           "TDANN: (max − first bin) / max of c(d) / chance(d); 0 salt-and-pepper, → 1 smooth");
  t += row("cluster size", number_or_dash(j["cluster_size"]),
           "All-TNN: mean radius around a unit that holds all 8 orientation bins (sheet units)");
  t += row("local entropy", number_or_dash(j["local_entropy"]),
           "All-TNN: entropy of the 8 orientation bins per 8×8-cell tile (bits, at most 3)");
  t += row("selective fraction", number_or_dash(j["selective_fraction"]),
           "units with circular variance &lt; 0.6 (needs --selectivity)");
  return t + "</table>\n";
}

}  // namespace map_report_internal

std::string write_map_report(const std::string& dir, const MapReportInputs& inputs) {
  using namespace map_report_internal;
  if (inputs.measures == nullptr) throw_runtime("map report: no measures to draw");
  const OrientationMapMeasures& m = *inputs.measures;
  auto put = [&](const std::string& name, const std::string& contents) {
    write_file_atomic(dir + "/" + name, contents);
  };
  write_png(dir + "/orientation_map.png",
            orientation_map_image(inputs.theta, inputs.selectivity, m.pinwheels.pinwheels,
                                  kMapPagePixels, kPinwheelPixels));
  write_png(dir + "/orientation_legend.png", orientation_legend_image());
  const std::string x_label = "sheet distance d";
  put("orientation_curve.svg",
      orientation_curve_svg(m.curve, "orientation difference c(d)", x_label));
  put("smoothness.svg",
      normalised_curves_svg({normalised_series(m.curve, "orientation", "#c0392b")},
                            m.curve.max_distance, "c(d) / chance(d)", x_label));
  put("spectrum.svg", spectrum_svg(m.pinwheels, m.cell_size, "radial power spectrum of e^(2iθ)"));

  std::string body = fmt::format("<h1>{}</h1>\n", xml_escape(inputs.title));
  if (!std::isfinite(m.period())) {
    body +=
        "<p class=\"warning\">No column spacing: the map's spectrum has no ring, so it has no Λ, "
        "no pinwheel density, and its smoothness is binned over 9 cell spacings. A "
        "salt-and-pepper map looks like this.</p>\n";
  }
  const std::string selectivity =
      inputs.selectivity.defined() ? "brightness = selectivity" : "no selectivity given";
  body += fmt::format(
      "<div class=\"row\">\n<figure><img src=\"orientation_map.png\" alt=\"orientation map\">"
      "<figcaption>orientation map (hue; {}; grey: no unit). Pinwheels: white +½, black −½, "
      "grey: within ½ Λ of the border, not counted.<br><img src=\"orientation_legend.png\" "
      "alt=\"orientation colour legend\" class=\"legend\"> 0° … 180°</figcaption></figure>\n"
      "<div>\n<h2>Numbers</h2>\n{}<p class=\"note\">All of them, with the curves and every "
      "pinwheel, are in measure.json.</p>\n</div>\n</div>\n",
      selectivity, numbers_table(inputs.json));
  body += "<div class=\"row\">\n";
  body += figure("orientation_curve.svg",
                 "mean orientation difference of unit pairs against their distance, beside the "
                 "same with positions shuffled (chance)");
  body += figure("smoothness.svg", "the same divided by chance: 1 = no map");
  body += figure("spectrum.svg", "radial power spectrum of the map (ring: 1/Λ)");
  body += "</div>\n";
  body +=
      "<p class=\"note\">Smoothness (TDANN): unit pairs at distance d &gt; 0 binned out to "
      "(4/3)·Λ·√2/2 (9 bins). Pinwheels: plaquettes around which the orientation (smoothed "
      "with σ = 1 cell) turns by ±½ turn; counted only when the map spans at least 2 Λ.</p>\n";
  const std::string index = dir + "/index.html";
  put("index.html", report_page_html(inputs.title, body));
  return index;
}

}  // namespace nosharing
