#include "nosharing/report/mapformer_report.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "nosharing/core/error.h"
#include "nosharing/core/files.h"
#include "nosharing/report/colormap.h"
#include "nosharing/report/html_report.h"
#include "nosharing/report/image.h"
#include "nosharing/report/svg.h"

namespace nosharing {
namespace {

constexpr int kFieldPixels = 320;  // side of the attention-field figure
constexpr int kAttentionMapPixels = 120;    // side of one attention map or head map

std::string number_text(double value, const char* format = "{:.3g}") {
  return std::isfinite(value) ? fmt::format(fmt::runtime(format), value) : "–";
}

int64_t patch_count(const LayerAnalysis& layer) {
  int64_t total = 0;
  for (const Components& p : layer.patches) total += static_cast<int64_t>(p.components.size());
  return total;
}

Rgb position_color(double y, double x, int64_t h, int64_t w) {
  const double fy = y / static_cast<double>(std::max<int64_t>(1, h - 1));
  const double fx = x / static_cast<double>(std::max<int64_t>(1, w - 1));
  const auto c = [](double f) {
    return static_cast<uint8_t>(std::lround(40 + 200 * std::clamp(f, 0.0, 1.0)));
  };
  return {c(fy), c(fx), 150};
}

std::string css(Rgb c) { return fmt::format("#{:02x}{:02x}{:02x}", c.r, c.g, c.b); }

// Columns at their grid positions (grey), each joined to its attention centre (a dot
// coloured by the column's position) with a circle of radius = spread around the centre.
std::string attention_field_svg(const MapformerAnalysis& a, const MapformerBlockAnalysis& b) {
  const int64_t h = a.grid_height, w = a.grid_width;
  const double cell = static_cast<double>(kFieldPixels) / static_cast<double>(std::max(h, w));
  const double margin = 20, title = 22;
  const double width = cell * static_cast<double>(w) + 2 * margin;
  const double height = cell * static_cast<double>(h) + 2 * margin + title;
  auto px = [&](double x) { return margin + (x + 0.5) * cell; };
  auto py = [&](double y) { return title + margin + (y + 0.5) * cell; };
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0:.0f}\" height=\"{1:.0f}\" "
      "viewBox=\"0 0 {0:.0f} {1:.0f}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{2:.1f}\" y=\"15\">{3}</text>\n"
      "<rect x=\"{4:.1f}\" y=\"{5:.1f}\" width=\"{6:.1f}\" height=\"{7:.1f}\" fill=\"none\" "
      "stroke=\"#ccc\"/>\n",
      width, height, margin,
      xml_escape(fmt::format("{}: attention centres (r = {})", b.name,
                             number_text(b.attention_correlation))),
      margin, title + margin, cell * static_cast<double>(w), cell * static_cast<double>(h));
  const torch::Tensor centres = b.centres.contiguous();
  const torch::Tensor spread = b.spread.contiguous();
  for (int64_t i = 0; i < h * w; ++i) {
    const double y0 = a.positions[i][0].item<double>(), x0 = a.positions[i][1].item<double>();
    const double cy = centres[i][0].item<double>(), cx = centres[i][1].item<double>();
    const double r = spread[i].item<double>() * cell;
    const std::string color = css(position_color(y0, x0, h, w));
    svg += fmt::format(
        "<circle cx=\"{0:.2f}\" cy=\"{1:.2f}\" r=\"{2:.2f}\" fill=\"none\" stroke=\"{3}\" "
        "stroke-opacity=\"0.35\"/>\n"
        "<circle cx=\"{4:.2f}\" cy=\"{5:.2f}\" r=\"2\" fill=\"#999\"/>\n"
        "<line x1=\"{4:.2f}\" y1=\"{5:.2f}\" x2=\"{0:.2f}\" y2=\"{1:.2f}\" stroke=\"#333\" "
        "stroke-width=\"1\"/>\n"
        "<circle cx=\"{0:.2f}\" cy=\"{1:.2f}\" r=\"3.5\" fill=\"{3}\" stroke=\"#222\" "
        "stroke-width=\"0.5\"/>\n",
        px(cx), py(cy), std::isfinite(r) ? r : 0.0, color, px(x0), py(y0));
  }
  svg += "</svg>\n";
  return svg;
}

// The mean attention maps of five columns side by side (dark blue 0 → yellow at the row's
// maximum), each column's own cell outlined.
RgbImage attention_maps_image(const MapformerAnalysis& a, const MapformerBlockAnalysis& b,
                              const std::vector<int64_t>& columns) {
  const int64_t h = a.grid_height, w = a.grid_width;
  const int cell = std::max<int>(3, kAttentionMapPixels / static_cast<int>(std::max(h, w)));
  const int gap = 8;
  const int tile_w = static_cast<int>(w) * cell, tile_h = static_cast<int>(h) * cell;
  RgbImage image(static_cast<int>(columns.size()) * (tile_w + gap) - gap, tile_h);
  const torch::Tensor maps = b.mean_attention.contiguous();
  for (size_t t = 0; t < columns.size(); ++t) {
    const int64_t i = columns[t];
    const torch::Tensor row = maps[i];
    const double top = std::max(1e-12, row.max().item<double>());
    const int ox = static_cast<int>(t) * (tile_w + gap);
    for (int64_t j = 0; j < h * w; ++j) {
      const int x = ox + static_cast<int>(j % w) * cell, y = static_cast<int>(j / w) * cell;
      image.fill_rect(x, y, cell, cell, sequential_color(row[j].item<double>() / top));
    }
    const int x = ox + static_cast<int>(i % w) * cell, y = static_cast<int>(i / w) * cell;
    const Rgb black{0, 0, 0};
    image.fill_rect(x, y, cell, 1, black);
    image.fill_rect(x, y + cell - 1, cell, 1, black);
    image.fill_rect(x, y, 1, cell, black);
    image.fill_rect(x + cell - 1, y, 1, cell, black);
  }
  return image;
}

RgbImage head_map_image(const torch::Tensor& map, double limit) {
  const int64_t h = map.size(0), w = map.size(1);
  const int cell = std::max<int>(3, kAttentionMapPixels / static_cast<int>(std::max(h, w)));
  RgbImage image(static_cast<int>(w) * cell, static_cast<int>(h) * cell);
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      image.fill_rect(static_cast<int>(x) * cell, static_cast<int>(y) * cell, cell, cell,
                      diverging_color(map[y][x].item<double>(), limit));
    }
  }
  return image;
}

std::string depth_svg(const MapformerAnalysis& a) {
  PlotSeries length, spread, shift;
  length.label = "wiring length";
  spread.label = "spread";
  spread.color = "#c0392b";
  shift.label = "centre shift";
  shift.color = "#7f8c8d";
  for (size_t k = 0; k < a.blocks.size(); ++k) {
    const double x = static_cast<double>(k + 1);
    length.x.push_back(x);
    length.y.push_back(a.blocks[k].wiring_length);
    spread.x.push_back(x);
    spread.y.push_back(a.blocks[k].mean_spread);
    shift.x.push_back(x);
    shift.y.push_back(a.blocks[k].mean_shift);
  }
  for (PlotSeries* s : {&length, &spread, &shift}) s->markers = a.blocks.size() < 2;
  PlotOptions o;
  o.title = "Attention across depth (grid units)";
  o.x_label = "block";
  o.y_label = "grid units";
  o.y_min = 0;
  return plot_svg({length, spread, shift}, o);
}

// aux/<name> per step from the train lines; empty when the run logged none.
std::string auxiliary_svg(const std::vector<nlohmann::json>& metrics) {
  PlotSeries wiring, infonce;
  wiring.label = "aux/wiring";
  infonce.label = "aux/infonce";
  infonce.color = "#c0392b";
  for (const auto& line : metrics) {
    if (line.value("kind", "") != "train" || !line.contains("step")) continue;
    const double step = line["step"].get<double>();
    if (line.contains("aux/wiring") && line["aux/wiring"].is_number()) {
      wiring.x.push_back(step);
      wiring.y.push_back(line["aux/wiring"].get<double>());
    }
    if (line.contains("aux/infonce") && line["aux/infonce"].is_number()) {
      infonce.x.push_back(step);
      infonce.y.push_back(line["aux/infonce"].get<double>());
    }
  }
  std::vector<PlotSeries> series;
  for (PlotSeries* s : {&wiring, &infonce}) {
    if (s->x.empty()) continue;
    s->markers = s->x.size() < 3;
    series.push_back(*s);
  }
  if (series.empty()) return "";
  PlotOptions o;
  o.title = "Auxiliary losses (unweighted, mean over blocks)";
  o.x_label = "optimiser step";
  o.y_label = "loss";
  o.y_min = 0;
  return plot_svg(series, o);
}

}  // namespace

std::string write_mapformer_html(const std::string& dir, const std::string& title,
                                 const MapformerAnalysis& a,
                                 const std::vector<nlohmann::json>& metrics,
                                 const nlohmann::json& config_summary) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) throw_runtime("{}: cannot create the report folder ({})", dir, error.message());
  auto put = [&](const std::string& name, const std::string& contents) {
    write_file_atomic(dir + "/" + name, contents);
  };
  const int64_t h = a.grid_height, w = a.grid_width;

  std::string body = fmt::format("<h1>{}</h1>\n", xml_escape(title));
  if (config_summary.is_object() && !config_summary.empty()) {
    body += "<p class=\"config\">";
    for (const auto& [key, value] : config_summary.items()) {
      body += fmt::format("<code>{} = {}</code> ", xml_escape(key), xml_escape(value.dump()));
    }
    body += "</p>\n";
  }
  body += fmt::format(
      "<p class=\"note\">Mapformer: {}×{} grid of columns ({}×{} patches), D = {}; attention "
      "fields averaged over {} {} images.</p>\n",
      h, w, a.patch, a.patch, a.dim, a.images, xml_escape(a.inputs));
  body +=
      "<h2>Summary</h2>\n<table>\n<tr><th>block</th><th>attention retinotopy r</th><th>RF "
      "retinotopy r</th><th>mean spread</th><th>mean shift</th><th>self-attention</th>"
      "<th>wiring length</th><th>wiring cost</th><th>MLP weight SNR (fc1 / fc2)</th>"
      "<th>orientation smoothness</th><th>category smoothness</th><th>patches</th></tr>\n";
  for (const MapformerBlockAnalysis& b : a.blocks) {
    body += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{} / {}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        xml_escape(b.name), number_text(b.attention_correlation), number_text(b.rf_correlation),
        number_text(b.mean_spread), number_text(b.mean_shift), number_text(b.self_attention),
        number_text(b.wiring_length), number_text(b.wiring_cost), number_text(b.fc1_snr.squared),
        number_text(b.fc2_snr.squared), number_text(b.maps.orientation_curve.smoothness),
        number_text(b.maps.dprime.defined() ? b.maps.category_smoothness
                                             : std::numeric_limits<double>::quiet_NaN()),
        b.maps.dprime.defined() ? std::to_string(patch_count(b.maps)) : "–");
  }
  body +=
      "</table>\n<p class=\"note\">Attention field of column i: Ā_i, its attention map averaged "
      "over the images; centre c_i = Σ_j Ā_ij p_j, spread = √(Σ_j Ā_ij ‖p_j − c_i‖²), shift = "
      "‖c_i − p_i‖ (grid units; an edge column's local field is clipped by the border, so its "
      "centre lies inward). Retinotopy r: Pearson correlation of the attention centres "
      "(or of gradient RF centres, DESIGN §5) with the columns' positions, mean over y and x "
      "(– when the centres do not vary). Wiring length: mean_i Σ_j A_ij d_ij (0: "
      "self-attention); wiring cost: the training loss (1/L) Σ_ij A_ij √(1 + d_ij²) (1: "
      "self-attention). Orientation and category smoothness, patches: the block's output "
      "columns as a sheet (D channels at each grid position), measured as an lcnet layer's "
      "(DESIGN §5).</p>\n";

  if (!metrics.empty()) {
    put("training_loss.svg", training_curve_svg(metrics, false));
    put("training_accuracy.svg", training_curve_svg(metrics, true));
    body += "<h2>Training</h2>\n<div class=\"row\">\n" +
            figure("training_loss.svg", "loss per optimiser step") +
            figure("training_accuracy.svg", "validation accuracy");
    const std::string aux = auxiliary_svg(metrics);
    if (!aux.empty()) {
      put("auxiliary_losses.svg", aux);
      body += figure("auxiliary_losses.svg", "auxiliary losses");
    }
    body += "</div>\n";
  }

  if (!a.blocks.empty()) {
    put("attention_depth.svg", depth_svg(a));
    body += "<h2>Attention across depth</h2>\n<div class=\"row\">\n" +
            figure("attention_depth.svg", "wiring length, spread and shift per block") + "</div>\n";
  }
  // Five columns: the corners and the middle.
  std::vector<int64_t> columns = {0, w - 1, (h / 2) * w + w / 2, (h - 1) * w, h * w - 1};
  std::sort(columns.begin(), columns.end());
  columns.erase(std::unique(columns.begin(), columns.end()), columns.end());
  std::string column_names;
  for (int64_t c : columns) {
    column_names += fmt::format("{}({}, {})", column_names.empty() ? "" : ", ", c / w, c % w);
  }
  for (const MapformerBlockAnalysis& b : a.blocks) {
    body += fmt::format("<h2>{}</h2>\n<div class=\"row\">\n", xml_escape(b.name));
    const std::string field = b.name + "_attention_field.svg";
    put(field, attention_field_svg(a, b));
    body += figure(field,
                   "attention centres: each column's position (grey) joined to its centre "
                   "(coloured by position), circle radius = spread");
    const std::string maps = b.name + "_attention_maps.png";
    write_png(dir + "/" + maps, attention_maps_image(a, b, columns));
    body += figure(maps, fmt::format("mean attention maps of columns {} (dark blue 0 → yellow "
                                     "at the map's maximum; the reading column outlined)",
                                     column_names));
    body += "</div>\n";
    body += layer_maps_html(dir, b.maps, a.class_names, a.input_height, a.input_width);
  }

  if (a.head_maps.defined() && a.head_maps.numel() > 0) {
    const double limit = std::max(1e-12, a.head_maps.abs().max().item<double>());
    body += fmt::format(
        "<h2>Head: per-class pooling maps u_c</h2>\n<p class=\"note\">y_c = Σ_i u_ci (v_c · "
        "x_i) + b_c; blue −{0:.2g} … white 0 … red +{0:.2g}. Where each class reads the "
        "grid.</p>\n<div class=\"row\">\n",
        limit);
    for (int64_t c = 0; c < a.head_maps.size(0); ++c) {
      const std::string name = c < static_cast<int64_t>(a.class_names.size())
                                   ? a.class_names[static_cast<size_t>(c)]
                                   : std::to_string(c);
      const std::string file = fmt::format("head_map_{}.png", c);
      write_png(dir + "/" + file, head_map_image(a.head_maps[c], limit));
      body += figure(file, name);
    }
    body += "</div>\n";
  }

  const std::string index = dir + "/index.html";
  write_file_atomic(index, report_page_html(title, body));
  return index;
}

}  // namespace nosharing
