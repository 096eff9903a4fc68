// The figures of one orientation map, shared by the run report (html_report.h) and `nosharing
// measure-map` (map_report.h): the map with its pinwheels, the colour legend, c(d) beside its
// chance curve, the chance-normalised curves and the radial spectrum. Drawn from the numbers
// of nosharing/analysis only.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "nosharing/analysis/pinwheels.h"
#include "nosharing/analysis/smoothness.h"
#include "nosharing/report/image.h"
#include "nosharing/report/svg.h"

namespace nosharing {

// Side of a square grid cell in pixels so that the map is about `target_pixels` on its longer
// side (at least 2).
int map_cell_pixels(int64_t height, int64_t width, int target_pixels = 240);

// theta [H, W] radians as hue; selectivity [H, W] as brightness (full at its 95th percentile;
// undefined: every unit full); NaN θ grey. Pinwheels: white discs +½, black −½, grey those
// inside the border margin that the density leaves out, `pinwheel_radius` pixels (0: half a
// cell, at least 2).
RgbImage orientation_map_image(const torch::Tensor& theta, const torch::Tensor& selectivity,
                               const std::vector<Pinwheel>& pinwheels, int target_pixels = 240,
                               double pinwheel_radius = 0);

// The hue wheel from 0° to 180°, 180 × 14 pixels.
RgbImage orientation_legend_image();

// c(d) of orientation in degrees beside its shuffled-position chance curve (y to 50°, or
// further when the curve rises above it).
std::string orientation_curve_svg(const SmoothnessCurve& curve, const std::string& title,
                                  const std::string& x_label);

// One chance-normalised curve n(d) = c(d) / chance(d), labelled with its smoothness s.
PlotSeries normalised_series(const SmoothnessCurve& curve, const std::string& label,
                             const std::string& color);

// Normalised curves with the chance line n = 1 out to `max_distance`.
std::string normalised_curves_svg(std::vector<PlotSeries> series, double max_distance,
                                  const std::string& title, const std::string& x_label);

// The radial power spectrum of e^{2iθ} (bin 0, DC, left out), frequencies per sheet unit; its
// label gives Λ, or says there is no ring.
std::string spectrum_svg(const PinwheelResult& pinwheels, double cell_size,
                         const std::string& title);

}  // namespace nosharing
