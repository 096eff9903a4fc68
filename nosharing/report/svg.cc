#include "nosharing/report/svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace nosharing {
namespace {

// About five round tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi) {
  const double span = hi - lo;
  const double raw = span / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * span; t += step) {
    out.push_back(std::abs(t) < 1e-12 * span ? 0.0 : t);
  }
  return out;
}

std::string tick_label(double v) { return fmt::format("{:.4g}", v); }

// Characters (not bytes) of UTF-8 text, to estimate how wide a label is drawn.
size_t svg_text_chars(const std::string& text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The approximate width in pixels of `text` at the plots' 11 px sans-serif.
double svg_text_width(const std::string& text) { return 6.2 * svg_text_chars(text); }

// One text label per marker, right of its dot (left of it where it would cross the plot's
// right edge), inside the axes. Where it would overlap a label already placed it moves a line
// down, then up, two lines down, … up to 6 lines away; where all of those are taken too, a
// label "N: name" shrinks to its "N" (the page lists the names by number), placed the same
// way or, failing that, at its dot — so a dense cluster of points stays readable instead of
// stacking text far from its dots.
std::string svg_point_labels(const PlotSeries& s, const std::vector<double>& px,
                             const std::vector<double>& py, double plot_right, double plot_top,
                             double plot_bottom) {
  struct Box {
    double x0, x1, y;
  };
  std::vector<Box> placed;
  std::string svg;
  for (size_t i = 0; i < px.size() && i < s.point_labels.size(); ++i) {
    if (!std::isfinite(px[i]) || s.point_labels[i].empty()) continue;
    const auto place = [&](const std::string& text, bool fallback) -> bool {
      const double width = svg_text_width(text);
      const bool left_of_dot = px[i] + s.marker_radius + 4 + width > plot_right;
      const double x0 =
          left_of_dot ? px[i] - s.marker_radius - 4 - width : px[i] + s.marker_radius + 4;
      const auto free_at = [&](double y) {
        if (y - 10 < plot_top || y > plot_bottom) return false;  // inside the axes
        return std::none_of(placed.begin(), placed.end(), [&](const Box& b) {
          return std::abs(b.y - y) < 12 && x0 < b.x1 && b.x0 < x0 + width;
        });
      };
      double y = py[i] + 4;
      bool found = free_at(y);
      for (int k = 1; !found && k <= 12; ++k) {
        const double candidate = py[i] + 4 + 12.0 * ((k + 1) / 2) * (k % 2 == 1 ? 1 : -1);
        if (free_at(candidate)) {
          y = candidate;
          found = true;
        }
      }
      if (!found && !fallback) return false;
      placed.push_back({x0, x0 + width, y});
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"{}\">{}</text>\n",
                         left_of_dot ? px[i] - s.marker_radius - 4 : x0, y,
                         left_of_dot ? "end" : "start", xml_escape(text));
      return true;
    };
    const std::string& label = s.point_labels[i];
    const size_t colon = label.find(':');
    if (colon == std::string::npos) {
      place(label, /*fallback=*/true);
    } else if (!place(label, /*fallback=*/false)) {
      place(label.substr(0, colon), /*fallback=*/true);
    }
  }
  return svg;
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string plot_svg(const std::vector<PlotSeries>& series, const PlotOptions& options) {
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo;
  for (const PlotSeries& s : series) {
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x_lo = std::min(x_lo, s.x[i]);
      x_hi = std::max(x_hi, s.x[i]);
      y_lo = std::min(y_lo, s.y[i]);
      y_hi = std::max(y_hi, s.y[i]);
    }
  }
  if (!std::isfinite(x_lo)) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  if (std::isfinite(options.x_min)) x_lo = options.x_min;
  if (std::isfinite(options.x_max)) x_hi = options.x_max;
  if (std::isfinite(options.y_min)) y_lo = options.y_min;
  if (std::isfinite(options.y_max)) y_hi = options.y_max;
  // A single value (one evaluation, a constant curve) is centred in a unit range.
  if (!(x_hi > x_lo)) x_lo -= 0.5, x_hi = x_lo + 1;
  if (!(y_hi > y_lo)) y_lo -= 0.5, y_hi = y_lo + 1;

  size_t legend_lines = 0;
  double legend_width = 120;  // room for the colour box and the longest label
  for (const PlotSeries& s : series) {
    if (s.label.empty()) continue;
    ++legend_lines;
    legend_width = std::max(legend_width, 18 + svg_text_width(s.label));
  }
  const double left = 58, right = 12, top = 28;
  const double bottom = 44 + (options.legend_below ? 14.0 * legend_lines + 6 : 0);
  const double w = options.width, h = options.height;
  const double pw = w - left - right, ph = h - top - bottom;
  auto sx = [&](double x) { return left + (x - x_lo) / (x_hi - x_lo) * pw; };
  auto sy = [&](double y) {
    const double f = (y - y_lo) / (y_hi - y_lo);
    return options.y_reversed ? top + f * ph : top + (1 - f) * ph;
  };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"{0}\" height=\"{1}\" "
      "fill=\"white\"/>\n",
      options.width, options.height);
  svg += fmt::format("<text x=\"{}\" y=\"17\" text-anchor=\"middle\" font-size=\"13\">{}</text>\n",
                     w / 2, xml_escape(options.title));
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" "
      "stroke=\"#444\"/>\n",
      left, top, pw, ph);
  for (double t : ticks(x_lo, x_hi)) {
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#ddd\"/>"
        "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
        sx(t), top, top + ph, top + ph + 14, tick_label(t));
  }
  for (double t : ticks(y_lo, y_hi)) {
    svg += fmt::format(
        "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#ddd\"/>"
        "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
        left, sy(t), left + pw, left - 4, sy(t) + 4, tick_label(t));
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", left + pw / 2,
                     top + ph + 36, xml_escape(options.x_label));
  svg += fmt::format(
      "<text x=\"14\" y=\"{0}\" text-anchor=\"middle\" "
      "transform=\"rotate(-90 14 {0})\">{1}</text>\n",
      top + ph / 2, xml_escape(options.y_label));
  size_t labelled = 0;
  for (const PlotSeries& s : series) labelled += !s.label.empty();
  const double legend_x = options.legend_below ? left : left + pw - legend_width;
  double legend_y = options.legend_below   ? top + ph + 56
                    : options.legend_bottom ? top + ph - 6 - 14.0 * static_cast<double>(labelled) + 14
                                            : top + 14;
  // Lines stay inside the axes (a curve beyond a fixed range is cut at the frame).
  svg += fmt::format(
      "<clipPath id=\"axes\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath>\n",
      left, top, pw, ph);
  for (const PlotSeries& s : series) {
    const size_t n = std::min(s.x.size(), s.y.size());
    if (s.markers) {
      std::vector<double> px(n, NAN), py(n, NAN);
      for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
        px[i] = sx(s.x[i]), py[i] = sy(s.y[i]);
        const std::string& color = i < s.point_colors.size() ? s.point_colors[i] : s.color;
        svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" fill=\"{}\"/>\n", px[i],
                           py[i], s.marker_radius, color);
      }
      svg += svg_point_labels(s, px, py, left + pw, top, top + ph);
    } else {
      std::string path;
      bool pen_down = false;
      for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
          pen_down = false;
          continue;
        }
        path += fmt::format("{}{:.1f},{:.1f} ", pen_down ? "L" : "M", sx(s.x[i]), sy(s.y[i]));
        pen_down = true;
      }
      if (!path.empty()) {
        svg += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" "
                           "clip-path=\"url(#axes)\"/>\n",
                           path, s.color);
      }
    }
    if (!s.label.empty()) {
      svg += fmt::format(
          "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>"
          "<text x=\"{}\" y=\"{}\">{}</text>\n",
          legend_x, legend_y - 9, s.color, legend_x + 14, legend_y, xml_escape(s.label));
      legend_y += 14;
    }
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace nosharing
