#include "nosharing/report/compare_page.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>

#include "nosharing/core/error.h"
#include "nosharing/core/files.h"
#include "nosharing/core/json_file.h"
#include "nosharing/report/html_report.h"
#include "nosharing/report/svg.h"

namespace nosharing {
namespace {

constexpr size_t kComparePointLabelChars = 36;  // beside a scatter point
constexpr size_t kCompareLegendChars = 60;      // in the curves' legend

std::string compare_cell(double value, const char* format = "{:.3g}") {
  return std::isfinite(value) ? fmt::format(fmt::runtime(format), value) : "–";
}

// "3: topography.weight=0.5", cut to `max_chars` characters (UTF-8 aware) with an ellipsis:
// the tables carry the full label under the same number.
std::string compare_short_label(size_t i, const std::string& label, size_t max_chars) {
  const std::string full = fmt::format("{}: {}", i + 1, label);
  size_t chars = 0;
  for (size_t b = 0; b < full.size(); ++b) {
    if ((static_cast<unsigned char>(full[b]) & 0xC0) == 0x80) continue;
    if (++chars == max_chars) return full.substr(0, b) + "…";
  }
  return full;
}

// A point's or curve's label: the run's number and its values of the differing keys (the
// caption names the keys), or its directory's name when nothing differs.
std::string compare_point_label(const RunComparison& comparison, size_t i, size_t max_chars) {
  const ComparedRun& run = comparison.runs[i];
  std::string values;
  for (const std::string& key : comparison.differing_keys) {
    values +=
        (values.empty() ? "" : ", ") + comparison_key_value(run.config, key).substr(key.size() + 1);
  }
  return compare_short_label(i, values.empty() ? run.name : values, max_chars);
}

std::string compare_swatch(size_t i) {
  return fmt::format(
      "<span style=\"display:inline-block;width:0.8em;height:0.8em;background:{}\"></span>",
      comparison_run_color(i));
}

// [lo, hi] of the finite values with 10 % of the span (or ±0.05 for one value) either side,
// so points and their labels stay inside the frame.
void compare_padded_range(const std::vector<double>& values, double* lo, double* hi) {
  *lo = NAN, *hi = NAN;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    *lo = std::isfinite(*lo) ? std::min(*lo, v) : v;
    *hi = std::isfinite(*hi) ? std::max(*hi, v) : v;
  }
  if (!std::isfinite(*lo)) return;
  const double pad = *hi > *lo ? 0.1 * (*hi - *lo) : std::max(0.05, 0.05 * std::abs(*lo));
  *lo -= pad, *hi += pad;
}

// An accuracy axis: padded as above but not below 0 (above 1 the padding stays: points at
// 1 and their labels would sit on the frame).
void compare_accuracy_range(const std::vector<double>& values, double* lo, double* hi) {
  compare_padded_range(values, lo, hi);
  if (std::isfinite(*lo)) *lo = std::max(0.0, *lo);
}

// One point per run at (x(run), accuracy); runs without either are listed in `missing`.
std::string compare_scatter_svg(const RunComparison& comparison,
                                const std::function<double(const ComparedRun&)>& x_of,
                                const PlotOptions& base, std::vector<std::string>* missing) {
  PlotSeries points;
  points.markers = true;
  points.marker_radius = 5;
  for (size_t i = 0; i < comparison.runs.size(); ++i) {
    const ComparedRun& run = comparison.runs[i];
    const double x = x_of(run);
    if (!std::isfinite(x) || !std::isfinite(run.accuracy)) {
      missing->push_back(fmt::format("{} ({})", i + 1,
                                     !run.analysed       ? "not analysed"
                                     : !std::isfinite(x) ? "not measured"
                                                         : "no validation accuracy"));
    }
    points.x.push_back(x);
    points.y.push_back(run.accuracy);
    points.point_colors.push_back(comparison_run_color(i));
    points.point_labels.push_back(compare_point_label(comparison, i, kComparePointLabelChars));
  }
  PlotOptions options = base;
  options.width = 460;
  options.height = 340;
  compare_padded_range(points.x, &options.x_min, &options.x_max);
  compare_accuracy_range(points.y, &options.y_min, &options.y_max);
  options.y_label = "validation accuracy";
  return plot_svg({points}, options);
}

double compare_first_smoothness(const ComparedRun& run) {
  return run.smoothness_layer < 0
             ? NAN
             : run.layers[static_cast<size_t>(run.smoothness_layer)].smoothness;
}

// "lc1 (orientation)", or several such joined when the runs' first smooth layers differ.
std::string compare_smoothness_axis(const RunComparison& comparison) {
  std::vector<std::string> names;
  for (const ComparedRun& run : comparison.runs) {
    if (run.smoothness_layer < 0) continue;
    const ComparedLayer& layer = run.layers[static_cast<size_t>(run.smoothness_layer)];
    const std::string name = fmt::format("{} ({})", layer.name, layer.smoothness_kind);
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : " / ") + name;
  return "smoothness of the first measured layer: " + (joined.empty() ? "none" : joined);
}

std::string compare_curves_svg(const RunComparison& comparison) {
  const bool by_epoch = comparison.curve_x == "epoch";
  std::vector<PlotSeries> series;
  std::vector<double> accuracies;
  for (size_t i = 0; i < comparison.runs.size(); ++i) {
    PlotSeries s;
    s.label = compare_point_label(comparison, i, kCompareLegendChars);
    s.color = comparison_run_color(i);
    for (const ValidationPoint& p : comparison.runs[i].validation) {
      s.x.push_back(static_cast<double>(by_epoch ? p.epoch : p.step));
      s.y.push_back(p.accuracy);
      accuracies.push_back(p.accuracy);
    }
    s.markers = s.x.size() < 3;  // a line needs a few points to read as a curve
    s.marker_radius = 4;
    series.push_back(std::move(s));
  }
  PlotOptions options;
  options.title = "Validation accuracy";
  options.x_label = by_epoch ? "epoch" : "optimiser step";
  options.y_label = "accuracy";
  compare_accuracy_range(accuracies, &options.y_min, &options.y_max);
  options.width = 560;
  options.height = 340 + 14 * static_cast<int>(series.size());
  options.legend_below = true;
  return plot_svg(series, options);
}

// "<code>a</code>, <code>b</code>".
std::string compare_code_list(const std::vector<std::string>& words) {
  std::string html;
  for (const std::string& word : words) {
    html += (html.empty() ? "" : ", ") + fmt::format("<code>{}</code>", xml_escape(word));
  }
  return html;
}

std::string compare_warnings_html(const RunComparison& comparison) {
  std::string body;
  if (!comparison.model_or_data_keys.empty()) {
    body += fmt::format(
        "<p class=\"warning\"><strong>These are runs of different models or data</strong> "
        "({} differ): their numbers do not isolate one setting.</p>\n",
        compare_code_list(comparison.model_or_data_keys));
  }
  body += comparison.differing_keys.empty()
              ? fmt::format(
                    "<p class=\"config\">The configurations are identical (not counting {}): "
                    "runs are named by their directories.</p>\n",
                    compare_code_list(kComparisonIgnoredKeys))
              : fmt::format("<p class=\"config\">Keys that differ: {} (not counting {}).</p>\n",
                            compare_code_list(comparison.differing_keys),
                            compare_code_list(kComparisonIgnoredKeys));
  for (const ComparedRun& run : comparison.runs) {
    if (run.analysed) continue;
    body += fmt::format(
        "<p class=\"warning\">{} was not analysed: its map columns are empty "
        "(<code>nosharing analyze --run {}</code>).</p>\n",
        xml_escape(run.name), xml_escape(run.dir));
  }
  return body;
}

std::string compare_runs_table_html(const RunComparison& comparison) {
  std::string html = "<h2>Runs</h2>\n<table>\n<tr><th>#</th><th>run</th>";
  for (const std::string& key : comparison.differing_keys) {
    // A break allowed after each dot keeps long key names from widening the table.
    std::string header = xml_escape(key);
    for (size_t at = header.find('.'); at != std::string::npos; at = header.find('.', at + 6)) {
      header.insert(at + 1, "<wbr>");
    }
    html += "<th>" + header + "</th>";
  }
  html +=
      "<th>validation accuracy</th><th>at step (epoch)</th><th>images/s (median)</th>"
      "<th>epochs</th><th>steps</th><th>wiring length (Σ layers)</th><th>analysed</th></tr>\n";
  for (size_t i = 0; i < comparison.runs.size(); ++i) {
    const ComparedRun& run = comparison.runs[i];
    html += fmt::format(
        "<tr><td class=\"nowrap\">{} {}</td><td class=\"text nowrap\" title=\"{}\">{}</td>",
        compare_swatch(i), i + 1, xml_escape(run.dir), xml_escape(run.name));
    for (const std::string& key : comparison.differing_keys) {
      const std::string pair = comparison_key_value(run.config, key);
      html += fmt::format("<td class=\"text\">{}</td>", xml_escape(pair.substr(key.size() + 1)));
    }
    html += fmt::format(
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td "
        "class=\"text\">{}</td></tr>\n",
        compare_cell(run.accuracy, "{:.4f}"),
        run.accuracy_step < 0 ? "–" : fmt::format("{} ({})", run.accuracy_step, run.accuracy_epoch),
        compare_cell(run.images_per_second, "{:.0f}"), run.epochs, run.steps,
        compare_cell(run.wiring_length, "{:.4g}"), run.analysed ? "yes" : "no");
  }
  return html + "</table>\n";
}

// Layers in the order they first appear, each followed by its row in every analysed run,
// so a sweep's effect on one layer reads down a column.
std::string compare_layers_table_html(const RunComparison& comparison) {
  std::vector<std::string> names;
  for (const ComparedRun& run : comparison.runs) {
    for (const ComparedLayer& layer : run.layers) {
      if (std::find(names.begin(), names.end(), layer.name) == names.end()) {
        names.push_back(layer.name);
      }
    }
  }
  if (names.empty()) return "<h2>Layers</h2>\n<p class=\"note\">No run was analysed.</p>\n";
  std::string html =
      "<h2>Layers</h2>\n<table>\n<tr><th>layer</th><th>#</th><th>sheet</th><th>smoothness</th>"
      "<th>pinwheels per Λ²</th><th>selective fraction</th><th>column spacing Λ</th>"
      "<th>category smoothness</th><th>patches</th><th>wiring length</th><th>weight "
      "SNR</th></tr>\n";
  for (const std::string& name : names) {
    for (size_t i = 0; i < comparison.runs.size(); ++i) {
      for (const ComparedLayer& l : comparison.runs[i].layers) {
        if (l.name != name) continue;
        html += fmt::format(
            "<tr><td class=\"text\">{}</td><td class=\"nowrap\">{} {}</td><td "
            "class=\"text\">{}</td><td>{}{}</td>"
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            xml_escape(name), compare_swatch(i), i + 1, xml_escape(l.layout),
            compare_cell(l.smoothness), l.smoothness_kind == "channel" ? " (channel)" : "",
            compare_cell(l.pinwheel_density), compare_cell(l.selective_fraction),
            compare_cell(l.column_spacing), compare_cell(l.category_smoothness),
            compare_cell(l.patches, "{:.0f}"), compare_cell(l.wiring_length, "{:.4g}"),
            compare_cell(l.weight_snr));
      }
    }
  }
  return html +
         "</table>\n<p class=\"note\">Smoothness s = (max c − c(d₁)) / max c over sheet "
         "distances d &gt; 0 (0: salt-and-pepper, 1: smooth); on column sheets the per-channel "
         "smoothness across positions, marked (channel). Pinwheel density only where the map "
         "spans several column spacings Λ (animals: ≈ π).</p>\n";
}

std::string compare_figure_html(const RunComparison& comparison, const std::string& file,
                                const std::string& caption,
                                const std::vector<std::string>& missing) {
  std::string text = caption;
  if (!comparison.differing_keys.empty()) {
    text += "; labelled # : ";
    for (size_t k = 0; k < comparison.differing_keys.size(); ++k) {
      text += (k ? ", " : "") + comparison.differing_keys[k];
    }
  }
  if (!missing.empty()) {
    text += "; not drawn: ";
    for (size_t k = 0; k < missing.size(); ++k) text += (k ? ", " : "") + missing[k];
  }
  return figure(file, text);
}

std::string compare_figures_html(const std::string& dir, const RunComparison& comparison) {
  auto put = [&](const std::string& name, const std::string& contents) {
    write_file_atomic(dir + "/" + name, contents);
  };
  std::vector<std::string> missing_smoothness, missing_wiring;
  PlotOptions smooth;
  smooth.title = "Accuracy against smoothness";
  smooth.x_label = compare_smoothness_axis(comparison);
  put("accuracy_smoothness.svg",
      compare_scatter_svg(comparison, compare_first_smoothness, smooth, &missing_smoothness));
  PlotOptions wiring;
  wiring.title = "Accuracy against wiring length";
  wiring.x_label = "wiring length (sum over layers)";
  put("accuracy_wiring.svg",
      compare_scatter_svg(
          comparison, [](const ComparedRun& run) { return run.wiring_length; }, wiring,
          &missing_wiring));
  put("validation_accuracy.svg", compare_curves_svg(comparison));
  return "<h2>Figures</h2>\n<div class=\"row\">\n" +
         compare_figure_html(comparison, "accuracy_smoothness.svg",
                             "one point per run: final validation accuracy against the "
                             "smoothness of its first layer with one",
                             missing_smoothness) +
         compare_figure_html(comparison, "accuracy_wiring.svg",
                             "one point per run: final validation accuracy against the summed "
                             "wiring length of its layers",
                             missing_wiring) +
         compare_figure_html(comparison, "validation_accuracy.svg",
                             "validation accuracy of every run", {}) +
         "</div>\n";
}

}  // namespace

std::string comparison_run_color(size_t i) {
  // Tableau's ten categorical colours: distinct for the runs of a sweep.
  static const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return kColors[i % (sizeof(kColors) / sizeof(kColors[0]))];
}

ComparisonFiles write_comparison(const std::string& dir, const RunComparison& comparison) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw_runtime("{}: cannot create the comparison folder ({})", dir, error.message());
  ComparisonFiles files{dir + "/compare.json", dir + "/index.html"};
  write_json_atomic(files.json, comparison_to_json(comparison));

  const std::string title = fmt::format("Comparison of {} runs", comparison.runs.size());
  std::string body = fmt::format(
      "<style>.warning {{ background: #fff3cd; border: 1px solid #e0c060; padding: 0.4em "
      "0.6em; }} td.text {{ text-align: left; }} td.nowrap {{ white-space: nowrap; }} figcaption "
      "{{ max-width: 460px; }}</style>\n"
      "<h1>{}</h1>\n",
      xml_escape(title));
  body += compare_warnings_html(comparison);
  body += compare_runs_table_html(comparison);
  body += compare_figures_html(dir, comparison);
  body += compare_layers_table_html(comparison);
  write_file_atomic(files.index, report_page_html(title, body));
  return files;
}

}  // namespace nosharing
