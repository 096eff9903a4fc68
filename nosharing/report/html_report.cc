#include "nosharing/report/html_report.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "nosharing/analysis/sheet_maps.h"
#include "nosharing/core/error.h"
#include "nosharing/core/files.h"
#include "nosharing/report/image.h"
#include "nosharing/report/map_figures.h"
#include "nosharing/report/svg.h"

namespace nosharing {
namespace {

constexpr size_t kMaxClassMaps = 24;  // d′ maps drawn per layer

std::string rgb_css(Rgb c) { return fmt::format("#{:02x}{:02x}{:02x}", c.r, c.g, c.b); }

std::string fmt_number(const nlohmann::json& value, const char* format = "{:.3g}") {
  if (value.is_number()) return fmt::format(fmt::runtime(format), value.get<double>());
  return "–";
}

// Orientation map: hue = θ, brightness = selectivity (full at the layer's 95th percentile),
// pinwheels marked (cortical sheets only).
RgbImage orientation_image(const LayerAnalysis& layer) {
  const at::Tensor grid = layer.orientation_grid;
  return orientation_map_image(gather_map(layer.orientation.preferred, grid),
                               gather_map(layer.orientation.selectivity, grid),
                               layer.pinwheels.pinwheels);
}

// d′ map of one class, patches outlined in black.
RgbImage dprime_image(const LayerAnalysis& layer, size_t k, double limit) {
  const at::Tensor grid = layer.dprime_grids[k];
  const int64_t h = grid.size(0), w = grid.size(1);
  const at::Tensor d = gather_map(layer.dprime[static_cast<int64_t>(k)], grid).contiguous();
  const at::Tensor labels = layer.patches[k].labels.contiguous();
  const double* v = d.data_ptr<double>();
  const int64_t* l = labels.data_ptr<int64_t>();
  const int cell = map_cell_pixels(h, w);
  RgbImage image(static_cast<int>(w) * cell, static_cast<int>(h) * cell);
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      image.fill_rect(static_cast<int>(x) * cell, static_cast<int>(y) * cell, cell, cell,
                      diverging_color(v[y * w + x], limit));
    }
  }
  const Rgb black{0, 0, 0};
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const int64_t label = l[y * w + x];
      if (label == 0) continue;
      const int px = static_cast<int>(x) * cell, py = static_cast<int>(y) * cell;
      if (y == 0 || l[(y - 1) * w + x] != label) image.fill_rect(px, py, cell, 1, black);
      if (y == h - 1 || l[(y + 1) * w + x] != label)
        image.fill_rect(px, py + cell - 1, cell, 1, black);
      if (x == 0 || l[y * w + x - 1] != label) image.fill_rect(px, py, 1, cell, black);
      if (x == w - 1 || l[y * w + x + 1] != label)
        image.fill_rect(px + cell - 1, py, 1, cell, black);
    }
  }
  return image;
}

std::string rf_svg(const LayerAnalysis& layer, int64_t input_height, int64_t input_width) {
  PlotSeries s;
  s.markers = true;
  const at::Tensor positions = layer.coordinates.index_select(0, layer.rf_units);
  for (int64_t i = 0; i < layer.rf_units.size(0); ++i) {
    s.x.push_back(layer.rf_centres[i][1].item<double>());
    s.y.push_back(layer.rf_centres[i][0].item<double>());
    const double fy = positions[i][0].item<double>() / std::max<int64_t>(1, layer.height - 1);
    const double fx = positions[i][1].item<double>() / std::max<int64_t>(1, layer.width - 1);
    s.point_colors.push_back(rgb_css({static_cast<uint8_t>(std::lround(40 + 200 * fy)),
                                      static_cast<uint8_t>(std::lround(40 + 200 * fx)), 150}));
  }
  PlotOptions o;
  o.title = fmt::format("{}: RF centres (r = {:.3f})", layer.name, layer.rf_correlation);
  o.x_label = "x (input pixels)";
  o.y_label = "y (input pixels)";
  o.x_min = -0.5, o.x_max = static_cast<double>(input_width) - 0.5;
  o.y_min = -0.5, o.y_max = static_cast<double>(input_height) - 0.5;
  o.y_reversed = true;
  o.width = 320;
  o.height = 320;
  return plot_svg({s}, o);
}

// The mean d′ curve over classes (each bin: the mean of the classes' values there).
SmoothnessCurve mean_curve(const std::vector<SmoothnessCurve>& curves, double smoothness) {
  SmoothnessCurve mean = curves.front();
  auto average = [&](std::vector<double> SmoothnessCurve::*field, size_t b) {
    double sum = 0;
    int n = 0;
    for (const SmoothnessCurve& c : curves) {
      if (std::isfinite((c.*field)[b])) sum += (c.*field)[b], ++n;
    }
    return n ? sum / n : NAN;
  };
  for (size_t b = 0; b < mean.difference.size(); ++b) {
    mean.difference[b] = average(&SmoothnessCurve::difference, b);
    mean.chance[b] = average(&SmoothnessCurve::chance, b);
    mean.normalised[b] = average(&SmoothnessCurve::normalised, b);
  }
  mean.smoothness = smoothness;
  return mean;
}

std::string distance_label(const LayerAnalysis& layer) {
  return layer.cortical ? "sheet distance d" : "distance d between positions (same channel)";
}

std::string layer_orientation_curve_svg(const LayerAnalysis& layer) {
  return orientation_curve_svg(layer.orientation_curve,
                               fmt::format("{}: orientation difference c(d)", layer.name),
                               distance_label(layer));
}

// n(d) = c(d) / chance(d) for orientation, selectivity and (mean over classes) d′: 1 is chance.
std::string smoothness_svg(const LayerAnalysis& layer) {
  std::vector<PlotSeries> series = {
      normalised_series(layer.orientation_curve, "orientation", "#c0392b"),
      normalised_series(layer.selectivity_curve, "selectivity", "#7f8c8d")};
  if (!layer.dprime_curves.empty()) {
    series.push_back(normalised_series(mean_curve(layer.dprime_curves, layer.category_smoothness),
                                       "category d′", "#1f5fa8"));
  }
  return normalised_curves_svg(series, layer.orientation_curve.max_distance,
                               fmt::format("{}: c(d) / chance(d)", layer.name),
                               distance_label(layer));
}

}  // namespace

std::vector<PlotSeries> training_curve_series(const std::vector<nlohmann::json>& metrics,
                                              bool accuracy) {
  PlotSeries train, val;
  train.label = "train loss";
  val.label = "validation";
  val.color = "#c0392b";
  for (const auto& line : metrics) {
    const std::string kind = line.value("kind", "");
    if (!line.contains("step") || !line["step"].is_number()) continue;
    const double step = line["step"].get<double>();
    if (!accuracy && kind == "train") {
      const char* key = line.contains("task_loss") ? "task_loss" : "loss";
      if (line.contains(key) && line[key].is_number()) {
        if (key[0] == 't') train.label = "train task loss";
        train.x.push_back(step);
        train.y.push_back(line[key].get<double>());
      }
    }
    if (kind == "eval" && line.value("split", "val") == "val") {
      const char* key = accuracy ? "accuracy" : "loss";
      if (line.contains(key) && line[key].is_number()) {
        val.x.push_back(step);
        val.y.push_back(line[key].get<double>());
      }
    }
  }
  val.markers = val.x.size() < 3;
  if (accuracy) return {val};
  return {train, val};
}

std::string training_curve_svg(const std::vector<nlohmann::json>& metrics, bool accuracy) {
  PlotOptions o;
  o.title = accuracy ? "Validation accuracy" : "Loss";
  o.x_label = "optimiser step";
  o.y_label = accuracy ? "accuracy" : "loss";
  if (!accuracy) o.y_min = 0;
  return plot_svg(training_curve_series(metrics, accuracy), o);
}

std::string figure(const std::string& file, const std::string& caption) {
  return fmt::format("<figure><img src=\"{0}\" alt=\"{1}\"><figcaption>{1}</figcaption></figure>\n",
                     xml_escape(file), xml_escape(caption));
}

std::string report_page_html(const std::string& title, const std::string& body) {
  return fmt::format(
      R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{0}</title>
<script>
// Counts failed loads (figures included: their error events reach window while capturing)
// and script errors, for the status line at the end.
window.reportErrors = 0;
window.addEventListener("error", function () {{ window.reportErrors += 1; }}, true);
</script>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }}
th {{ background: #f3f3f3; }}
.row {{ display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }}
figure {{ margin: 0; }}
figcaption {{ font-size: 0.8em; max-width: 320px; }}
img.legend {{ vertical-align: middle; }}
.note, .config {{ font-size: 0.85em; color: #555; }}
td.what {{ text-align: left; font-size: 0.8em; color: #555; max-width: 22em; }}
.warning {{ color: #a33; font-weight: bold; }}
</style>
</head>
<body>
{1}<p id="status" class="note">figures loading…</p>
<script>
window.addEventListener("load", function () {{
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) {{ return i.complete && i.naturalWidth > 0; }});
  var status = document.getElementById("status");
  status.textContent = loaded.length + " of " + images.length + " figures loaded";
  status.setAttribute("data-loaded", String(loaded.length));
  status.setAttribute("data-total", String(images.length));
  status.setAttribute("data-errors", String(window.reportErrors));
}});
</script>
</body>
</html>
)html",
      xml_escape(title), body);
}

std::string layer_maps_html(const std::string& dir, const LayerAnalysis& layer,
                            const std::vector<std::string>& class_names, int64_t input_height,
                            int64_t input_width) {
  auto put = [&](const std::string& name, const std::string& contents) {
    write_file_atomic(dir + "/" + name, contents);
  };
  std::string body = "<div class=\"row\">\n";
  write_png(dir + "/orientation_legend.png", orientation_legend_image());
  const std::string ori = layer.name + "_orientation.png";
  write_png(dir + "/" + ori, orientation_image(layer));
  const std::string caption =
      layer.cortical
          ? fmt::format("orientation map, {} sheet (hue; brightness = selectivity; pinwheels: "
                        "white +½, black −½, grey: in the border margin, not counted)",
                        layer.layout)
          : std::string("most selective channel per position. A column sheet has no cortical "
                        "map: its channels share one point, so the curves compare each channel "
                        "with itself at other positions");
  body += fmt::format(
      "<figure><img src=\"{0}\" alt=\"{1} orientation map\"><figcaption>{2}<br><img "
      "src=\"orientation_legend.png\" alt=\"orientation colour legend\" class=\"legend\"> "
      "0° … 180°</figcaption></figure>\n",
      xml_escape(ori), xml_escape(layer.name), xml_escape(caption));
  const std::string curve = layer.name + "_orientation_curve.svg";
  put(curve, layer_orientation_curve_svg(layer));
  body += figure(curve, "orientation difference against distance, with chance");
  const std::string smooth = layer.name + "_smoothness.svg";
  put(smooth, smoothness_svg(layer));
  body += figure(smooth, layer.cortical ? "smoothness curves, chance-normalised"
                                        : "per-channel smoothness curves, chance-normalised");
  if (layer.cortical) {
    const std::string spectrum = layer.name + "_spectrum.svg";
    put(spectrum, spectrum_svg(layer.pinwheels, layer.cell_size,
                                fmt::format("{}: radial power spectrum of e^(2iθ)", layer.name)));
    body += figure(spectrum, "radial power spectrum of the orientation map (ring: Λ)");
  }
  if (layer.rf_centres.defined()) {
    const std::string rf = layer.name + "_rf.svg";
    put(rf, rf_svg(layer, input_height, input_width));
    body += figure(rf, "receptive-field centres, coloured by sheet position");
  }
  body += "</div>\n";
  if (layer.dprime.defined()) {
    const at::Tensor finite = at::nan_to_num(layer.dprime.abs(), 0.0, 0.0, 0.0);
    const double limit = std::max(1.0, finite.max().item<double>());
    body += fmt::format(
        "<h3>{}: category selectivity d′ (blue −{:.2g} … white 0 … red +{:.2g}; "
        "patches d′ &gt; threshold outlined)</h3>\n<div class=\"row\">\n",
        xml_escape(layer.name), limit, limit);
    const size_t classes = std::min(kMaxClassMaps, layer.patches.size());
    for (size_t k = 0; k < classes; ++k) {
      const std::string cls = k < class_names.size() ? class_names[k] : std::to_string(k);
      const std::string file = fmt::format("{}_dprime_{}.png", layer.name, k);
      write_png(dir + "/" + file, dprime_image(layer, k, limit));
      body += figure(file, fmt::format("{}: {} patches", cls, layer.patches[k].components.size()));
    }
    body += "</div>\n";
    if (layer.patches.size() > classes) {
      body += fmt::format("<p class=\"note\">{} more classes not drawn.</p>\n",
                          layer.patches.size() - classes);
    }
  }
  return body;
}

std::string write_html_report(const std::string& dir, const ReportInputs& inputs) {
  namespace fs = std::filesystem;
  if (inputs.analysis == nullptr) throw_runtime("report: no analysis to draw");
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) throw_runtime("{}: cannot create the report folder ({})", dir, error.message());
  const ModelAnalysis& analysis = *inputs.analysis;
  auto put = [&](const std::string& name, const std::string& contents) {
    write_file_atomic(dir + "/" + name, contents);
  };

  std::string body;
  body += fmt::format("<h1>{}</h1>\n", xml_escape(inputs.title));
  if (inputs.config_summary.is_object() && !inputs.config_summary.empty()) {
    body += "<p class=\"config\">";
    for (const auto& [key, value] : inputs.config_summary.items()) {
      body += fmt::format("<code>{} = {}</code> ", xml_escape(key), xml_escape(value.dump()));
    }
    body += "</p>\n";
  }

  // The headline: the first cortical map with its pinwheels.
  for (const LayerAnalysis& layer : analysis.layers) {
    if (!layer.cortical) continue;
    const std::string file = layer.name + "_orientation.png";
    write_png(dir + "/" + file, orientation_image(layer));
    const std::string density =
        std::isfinite(layer.pinwheels.density)
            ? fmt::format("{:.2f} per Λ²; animals ≈ π", layer.pinwheels.density)
            : std::string("no density: the map's spectrum has no ring, so no column spacing Λ");
    body += fmt::format(
        "<figure><img src=\"{}\" alt=\"{} orientation map\"><figcaption>{}: orientation map "
        "with its pinwheels (smoothness s = {:.2f}; {} pinwheels counted, {})"
        "</figcaption></figure>\n",
        xml_escape(file), xml_escape(layer.name), xml_escape(layer.name),
        layer.orientation_curve.smoothness, layer.pinwheels.counted, density);
    break;
  }

  // The numbers, as in analysis.json.
  body +=
      "<h2>Summary</h2>\n<table>\n<tr><th>layer</th><th>sheet</th><th>measured as</th>"
      "<th>orientation smoothness</th><th>selective (CV &lt; 0.6)</th><th>Λ</th>"
      "<th>pinwheels (per Λ²)</th><th>cluster size</th><th>category smoothness</th>"
      "<th>patches</th><th>RF–sheet r</th><th>weight SNR</th><th>wiring length</th></tr>\n";
  const nlohmann::json& layers_json = inputs.analysis_json.at("layers");
  for (const auto& l : layers_json) {
    const auto& o = l.at("orientation");
    const auto& c = l.at("category");
    const bool cortical = l["sheet"].value("cortical", false);
    const char* smoothness_key = cortical ? "smoothness" : "channel_smoothness";
    body += fmt::format(
        "<tr><td>{}</td><td>{} {}×{}×{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "</tr>\n",
        xml_escape(l.at("name").get<std::string>()),
        xml_escape(l["sheet"].value("layout", std::string())), l["sheet"]["channels"].dump(),
        l["sheet"]["height"].dump(), l["sheet"]["width"].dump(),
        cortical ? "cortical map" : "per channel", fmt_number(o[smoothness_key]),
        fmt_number(o["selective_fraction"]), fmt_number(o["column_spacing"]),
        o["pinwheel_count"].is_null() ? "–" : o["pinwheel_count"].dump(),
        fmt_number(o["pinwheel_density"]), fmt_number(o["cluster_size"]),
        fmt_number(c[smoothness_key]), c["patches"].is_null() ? "–" : c["patches"].dump(),
        fmt_number(l["retinotopy"]["correlation"]), fmt_number(l["weight_snr"]),
        fmt_number(l["wiring_length"]));
  }
  body +=
      "</table>\n<p class=\"note\">Smoothness (TDANN): c(d) = mean difference of unit pairs "
      "at sheet distance d &gt; 0, binned out to (4/3)·Λ·√2/2 (9 bins; without a Λ, 9 unit "
      "spacings), divided by the same for positions shuffled (chance); s = (max − first bin) / "
      "max: 0 salt-and-pepper, → 1 smooth. Cortical maps need one unit per point (hypercolumn "
      "or retinotopic layouts); on a column sheet the channels of a position share a point, so "
      "the reading is per channel: how alike a channel is at neighbouring positions (learned "
      "sharing), and there are no pinwheels. Pinwheel density counts pinwheels at least ½ Λ "
      "inside the map's border, per Λ², only when the map spans ≥ 2 Λ (animals and Gaussian "
      "random field maps: π).</p>\n";

  if (!inputs.metrics.empty()) {
    put("training_loss.svg", training_curve_svg(inputs.metrics, false));
    put("training_accuracy.svg", training_curve_svg(inputs.metrics, true));
    body += "<h2>Training</h2>\n<div class=\"row\">\n" +
            figure("training_loss.svg", "loss per optimiser step") +
            figure("training_accuracy.svg", "validation accuracy") + "</div>\n";
  }

  for (const LayerAnalysis& layer : analysis.layers) {
    body += fmt::format("<h2>{}</h2>\n", xml_escape(layer.name));
    body += layer_maps_html(dir, layer, analysis.class_names, analysis.input_height,
                            analysis.input_width);
  }

  const std::string html = report_page_html(inputs.title, body);
  const std::string index = dir + "/index.html";
  write_file_atomic(index, html);
  return index;
}

}  // namespace nosharing
