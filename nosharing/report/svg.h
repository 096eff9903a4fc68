// Line and scatter plots as SVG text, written by the project (no plotting library): c(d)
// curves, training curves, receptive-field centres and labelled scatter plots (one point
// per run in `nosharing compare`).
#pragma once

#include <cmath>
#include <string>
#include <vector>

namespace nosharing {

struct PlotSeries {
  std::string label;
  std::vector<double> x, y;  // non-finite points are skipped (lines break there)
  std::string color = "#1f5fa8";
  bool markers = false;                   // dots instead of a line
  std::vector<std::string> point_colors;  // per point, for markers (empty: `color`)
  std::vector<std::string> point_labels;  // per point, for markers: text beside the dot
  double marker_radius = 2.5;
};

struct PlotOptions {
  std::string title;
  std::string x_label, y_label;
  int width = 420, height = 300;
  // Axis ranges; NaN: from the data.
  double x_min = NAN, x_max = NAN, y_min = NAN, y_max = NAN;
  bool y_reversed = false;  // image coordinates: y grows downwards
  // The legend under the plot instead of inside its top-right corner: for many or long
  // labels, which would hide the curves.
  bool legend_below = false;
  bool legend_bottom = false;  // legend in the bottom-right corner instead of the top-right
};

// A complete SVG document. Labels are XML-escaped.
std::string plot_svg(const std::vector<PlotSeries>& series, const PlotOptions& options);

// "&", "<", ">", '"' escaped for XML/HTML text and attributes.
std::string xml_escape(const std::string& text);

}  // namespace nosharing
