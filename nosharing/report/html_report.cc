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
#include "nosharing/report/svg.h"

namespace nosharing {
namespace {

constexpr int kMapPixels = 240;       // target side of a map figure
constexpr size_t kMaxClassMaps = 24;  // d′ maps drawn per layer

int cell_size(int64_t height, int64_t width) {
  return std::max<int>(2, kMapPixels / static_cast<int>(std::max(height, width)));
}

std::string rgb_css(Rgb c) { return fmt::format("#{:02x}{:02x}{:02x}", c.r, c.g, c.b); }

std::string fmt_number(const nlohmann::json& value, const char* format = "{:.3g}") {
  if (value.is_number()) return fmt::format(fmt::runtime(format), value.get<double>());
  return "–";
}

// Orientation map: hue = θ, brightness = selectivity (full at the layer's 95th percentile).
RgbImage orientation_image(const LayerAnalysis& layer) {
  const at::Tensor grid = layer.orientation_grid;
  const int64_t h = grid.size(0), w = grid.size(1);
  const at::Tensor theta = gather_map(layer.orientation.preferred, grid).contiguous();
  const at::Tensor sel = gather_map(layer.orientation.selectivity, grid).contiguous();
  const double full = std::max(1e-6, at::quantile(sel.flatten(), 0.95).item<double>());
  const int cell = cell_size(h, w);
  RgbImage image(static_cast<int>(w) * cell, static_cast<int>(h) * cell);
  const double* t = theta.data_ptr<double>();
  const double* s = sel.data_ptr<double>();
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      image.fill_rect(static_cast<int>(x) * cell, static_cast<int>(y) * cell, cell, cell,
                      orientation_color(t[y * w + x], s[y * w + x], full));
    }
  }
  const double radius = std::max(3.0, 0.6 * cell);
  for (const Pinwheel& p : layer.pinwheels.pinwheels) {
    const Rgb white{255, 255, 255}, black{0, 0, 0};
    image.disc((p.x + 0.5) * cell, (p.y + 0.5) * cell, radius, p.sign > 0 ? white : black,
               p.sign > 0 ? black : white);
  }
  return image;
}

RgbImage orientation_legend() {
  RgbImage image(180, 14);
  for (int x = 0; x < 180; ++x) {
    image.fill_rect(x, 0, 1, 14, orientation_color(x * M_PI / 180.0, 1.0, 1.0));
  }
  return image;
}

// d′ map of one class, patches outlined in black.
RgbImage dprime_image(const LayerAnalysis& layer, size_t k, double limit) {
  const at::Tensor grid = layer.dprime_grids[k];
  const int64_t h = grid.size(0), w = grid.size(1);
  const at::Tensor d = gather_map(layer.dprime[static_cast<int64_t>(k)], grid).contiguous();
  const at::Tensor labels = layer.patches[k].labels.contiguous();
  const double* v = d.data_ptr<double>();
  const int64_t* l = labels.data_ptr<int64_t>();
  const int cell = cell_size(h, w);
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

// c(d) / max c for orientation, selectivity and (mean over classes) d′.
std::string smoothness_svg(const LayerAnalysis& layer) {
  auto normalised = [](const SmoothnessCurve& c, const std::string& label,
                       const std::string& color) {
    PlotSeries s;
    s.label = fmt::format("{} (s = {:.2f})", label, c.smoothness);
    s.color = color;
    s.x = c.distance;
    double max_c = 0;
    for (double v : c.difference) {
      if (std::isfinite(v)) max_c = std::max(max_c, v);
    }
    for (double v : c.difference) s.y.push_back(max_c > 0 ? v / max_c : NAN);
    return s;
  };
  std::vector<PlotSeries> series = {normalised(layer.orientation_curve, "orientation", "#c0392b"),
                                    normalised(layer.selectivity_curve, "selectivity", "#7f8c8d")};
  if (!layer.dprime_curves.empty()) {
    SmoothnessCurve mean = layer.dprime_curves[0];
    for (size_t b = 0; b < mean.difference.size(); ++b) {
      double sum = 0;
      int n = 0;
      for (const SmoothnessCurve& c : layer.dprime_curves) {
        if (std::isfinite(c.difference[b])) sum += c.difference[b], ++n;
      }
      mean.difference[b] = n ? sum / n : NAN;
    }
    mean.smoothness = layer.category_smoothness;
    series.push_back(normalised(mean, "category d′", "#1f5fa8"));
  }
  PlotOptions o;
  o.title = fmt::format("{}: c(d) / max c", layer.name);
  o.x_label = "sheet distance d";
  o.y_label = "mean |difference| / max";
  o.x_min = 0;
  o.y_min = 0;
  o.y_max = 1.05;
  return plot_svg(series, o);
}

}  // namespace

std::string training_curve_svg(const std::vector<nlohmann::json>& metrics, bool accuracy) {
  PlotSeries train, val;
  train.label = "train loss";
  val.label = "validation";
  val.color = "#c0392b";
  for (const auto& line : metrics) {
    const std::string kind = line.value("kind", "");
    if (!line.contains("step") || !line["step"].is_number()) continue;
    const double step = line["step"].get<double>();
    if (!accuracy && kind == "train" && line.contains("loss") && line["loss"].is_number()) {
      train.x.push_back(step);
      train.y.push_back(line["loss"].get<double>());
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
  PlotOptions o;
  o.title = accuracy ? "Validation accuracy" : "Loss";
  o.x_label = "optimiser step";
  o.y_label = accuracy ? "accuracy" : "loss";
  if (accuracy) return plot_svg({val}, o);
  o.y_min = 0;
  return plot_svg({train, val}, o);
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
  write_png(dir + "/orientation_legend.png", orientation_legend());
  const std::string ori = layer.name + "_orientation.png";
  write_png(dir + "/" + ori, orientation_image(layer));
  body += fmt::format(
      "<figure><img src=\"{0}\" alt=\"{1} orientation map\"><figcaption>orientation "
      "(hue; brightness = selectivity; pinwheels: white +½, black −½)<br><img "
      "src=\"orientation_legend.png\" alt=\"orientation colour legend\" class=\"legend\"> "
      "0° … 180°</figcaption></figure>\n",
      xml_escape(ori), xml_escape(layer.name));
  const std::string smooth = layer.name + "_smoothness.svg";
  put(smooth, smoothness_svg(layer));
  body += figure(smooth, "smoothness curves c(d)");
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

  // The numbers, as in analysis.json.
  body +=
      "<h2>Summary</h2>\n<table>\n<tr><th>layer</th><th>sheet</th><th>orientation "
      "smoothness</th><th>mean selectivity</th><th>pinwheels (per Λ²)</th><th>category "
      "smoothness</th><th>patches</th><th>RF–sheet r</th><th>weight SNR</th><th>kernel "
      "distance r=1 / r=4</th></tr>\n";
  const nlohmann::json& layers_json = inputs.analysis_json.at("layers");
  for (const auto& l : layers_json) {
    const auto& o = l.at("orientation");
    const auto& c = l.at("category");
    body += fmt::format(
        "<tr><td>{}</td><td>{}×{}×{}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td></tr>\n",
        xml_escape(l.at("name").get<std::string>()), l["sheet"]["channels"].dump(),
        l["sheet"]["height"].dump(), l["sheet"]["width"].dump(), fmt_number(o["smoothness"]),
        fmt_number(o["mean_selectivity"]), o["pinwheel_count"].dump(),
        fmt_number(o["pinwheel_density"]), fmt_number(c["smoothness"]),
        c["patches"].is_null() ? "–" : c["patches"].dump(),
        fmt_number(l["retinotopy"]["correlation"]), fmt_number(l["weight_snr"]),
        fmt_number(l["kernel_distance"]["radius_1"]), fmt_number(l["kernel_distance"]["radius_4"]));
  }
  body +=
      "</table>\n<p class=\"note\">Smoothness s = (max c − c(d₁)) / max c over sheet "
      "distances d &gt; 0 (0: salt-and-pepper, 1: smooth). Pinwheel density is shown only "
      "when the map spans enough column spacings Λ (animals: ≈ π).</p>\n";

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
