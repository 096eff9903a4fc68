#include "nosharing/report/map_figures.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace nosharing {
namespace map_figures_internal {  // named, not anonymous: the library compiles in unity batches

// The largest finite value (0 when there is none).
double finite_max(const std::vector<double>& values) {
  double m = 0;
  for (double v : values) {
    if (std::isfinite(v)) m = std::max(m, v);
  }
  return m;
}

}  // namespace map_figures_internal

int map_cell_pixels(int64_t height, int64_t width, int target_pixels) {
  return std::max<int>(
      2, target_pixels / static_cast<int>(std::max<int64_t>(1, std::max(height, width))));
}

RgbImage orientation_map_image(const torch::Tensor& theta, const torch::Tensor& selectivity,
                               const std::vector<Pinwheel>& pinwheels, int target_pixels,
                               double pinwheel_radius) {
  const int64_t h = theta.size(0), w = theta.size(1);
  const at::Tensor t = theta.detach().to(at::kDouble).contiguous();
  const at::Tensor s =
      selectivity.defined() ? selectivity.detach().to(at::kDouble).contiguous() : at::ones_like(t);
  const at::Tensor quantile = at::nanquantile(s.flatten(), 0.95);
  const double q = quantile.item<double>();
  const double full = std::isfinite(q) ? std::max(1e-6, q) : 1.0;
  const int cell = map_cell_pixels(h, w, target_pixels);
  RgbImage image(static_cast<int>(w) * cell, static_cast<int>(h) * cell);
  const double* tp = t.data_ptr<double>();
  const double* sp = s.data_ptr<double>();
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      image.fill_rect(static_cast<int>(x) * cell, static_cast<int>(y) * cell, cell, cell,
                      orientation_color(tp[y * w + x], sp[y * w + x], full));
    }
  }
  const double radius = pinwheel_radius > 0 ? pinwheel_radius : std::max(2.0, 0.5 * cell);
  const Rgb white{255, 255, 255}, black{0, 0, 0}, grey{150, 150, 150};
  for (const Pinwheel& p : pinwheels) {
    const Rgb fill = !p.counted ? grey : p.sign > 0 ? white : black;
    image.disc((p.x + 0.5) * cell, (p.y + 0.5) * cell, radius, fill, p.sign > 0 ? black : white);
  }
  return image;
}

RgbImage orientation_legend_image() {
  RgbImage image(180, 14);
  for (int x = 0; x < 180; ++x) {
    image.fill_rect(x, 0, 1, 14, orientation_color(x * M_PI / 180.0, 1.0, 1.0));
  }
  return image;
}

std::string orientation_curve_svg(const SmoothnessCurve& c, const std::string& title,
                                  const std::string& x_label) {
  PlotSeries measured, chance;
  measured.label = fmt::format("c(d) (s = {:.2f})", c.smoothness);
  measured.color = "#c0392b";
  chance.label = "chance (shuffled positions)";
  chance.color = "#999999";
  measured.x = chance.x = c.distance;
  for (size_t b = 0; b < c.distance.size(); ++b) {
    measured.y.push_back(c.difference[b] * 180 / M_PI);
    chance.y.push_back(c.chance[b] * 180 / M_PI);
  }
  PlotOptions o;
  o.title = title;
  o.x_label = x_label;
  o.y_label = "mean |Δθ| (degrees)";
  o.x_min = 0;
  o.y_min = 0;
  // Up to 50°, or further when the curve rises above it (at most 90°).
  o.y_max = std::max(50.0, 10 * std::ceil(map_figures_internal::finite_max(measured.y) / 10));
  o.legend_bottom = true;  // curves start low and end at chance, ≈ 45°
  return plot_svg({measured, chance}, o);
}

PlotSeries normalised_series(const SmoothnessCurve& c, const std::string& label,
                             const std::string& color) {
  PlotSeries s;
  s.label = fmt::format("{} (s = {:.2f})", label, c.smoothness);
  s.color = color;
  s.x = c.distance;
  s.y = c.normalised;
  return s;
}

std::string normalised_curves_svg(std::vector<PlotSeries> series, double max_distance,
                                  const std::string& title, const std::string& x_label) {
  PlotSeries chance;
  chance.label = "chance";
  chance.color = "#bbbbbb";
  chance.x = {0.0, max_distance};
  chance.y = {1.0, 1.0};
  series.push_back(chance);
  PlotOptions o;
  o.title = title;
  o.x_label = x_label;
  o.y_label = "difference / chance";
  o.x_min = 0;
  o.y_min = 0;
  double highest = 0;
  for (const PlotSeries& s : series) {
    highest = std::max(highest, map_figures_internal::finite_max(s.y));
  }
  o.y_max = std::max(1.3, std::ceil(10 * highest) / 10);
  o.legend_bottom = true;
  return plot_svg(series, o);
}

std::string spectrum_svg(const PinwheelResult& pinwheels, double cell_size,
                         const std::string& title) {
  PlotSeries s;
  s.label = std::isfinite(pinwheels.period)
                ? fmt::format("Λ = {:.3g}", pinwheels.period * cell_size)
                : std::string("no ring: no Λ");
  const RadialSpectrum& spectrum = pinwheels.spectrum;
  for (size_t b = 1; b < spectrum.frequency.size(); ++b) {
    s.x.push_back(spectrum.frequency[b] / cell_size);
    s.y.push_back(spectrum.power[b]);
  }
  PlotOptions o;
  o.title = title;
  o.x_label = "spatial frequency (cycles per sheet unit)";
  o.y_label = "power (fraction)";
  o.x_min = 0;
  o.y_min = 0;
  return plot_svg({s}, o);
}

}  // namespace nosharing
