#include "nosharing/report/wlsc_figures.h"

#include <stb/stb_image_write.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "nosharing/core/error.h"
#include "nosharing/core/files.h"
#include "nosharing/report/svg.h"

namespace nosharing {
namespace {

using Pixel = std::array<uint8_t, 3>;

struct Canvas {
  int width, height;
  std::vector<uint8_t> pixels;
  Canvas(int w, int h, Pixel background) : width(w), height(h), pixels(static_cast<size_t>(w * h * 3)) {
    for (int i = 0; i < w * h; ++i) std::copy(background.begin(), background.end(), &pixels[static_cast<size_t>(3 * i)]);
  }
  void set(int x, int y, Pixel c) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    std::copy(c.begin(), c.end(), &pixels[static_cast<size_t>(3 * (y * width + x))]);
  }
  void write(const std::string& path) const {
    if (stbi_write_png(path.c_str(), width, height, 3, pixels.data(), width * 3) == 0) {
      throw_runtime("{}: cannot write PNG", path);
    }
  }
};

// HSV hue wheel at full saturation and value; fraction in [0, 1).
Pixel hue(double fraction) {
  fraction -= std::floor(fraction);
  const double h = fraction * 6;
  const int sector = static_cast<int>(h) % 6;
  const double f = h - std::floor(h);
  const auto v = [](double t) { return static_cast<uint8_t>(std::lround(255 * t)); };
  switch (sector) {
    case 0: return {255, v(f), 0};
    case 1: return {v(1 - f), 255, 0};
    case 2: return {0, 255, v(f)};
    case 3: return {0, v(1 - f), 255};
    case 4: return {v(f), 0, 255};
    default: return {255, 0, v(1 - f)};
  }
}

}  // namespace

void write_dictionary_png(const std::string& path, const WlscAnalysis& analysis, int scale) {
  const int side = static_cast<int>(analysis.side);
  const int ph = static_cast<int>(analysis.patch_height), pw = static_cast<int>(analysis.patch_width);
  const int border = 1, gap = 1;
  const int tile_w = pw * scale + 2 * border, tile_h = ph * scale + 2 * border;
  Canvas canvas(side * (tile_w + gap) + gap, side * (tile_h + gap) + gap, {40, 40, 40});
  const torch::Tensor atoms = analysis.atoms.contiguous();
  for (int j = 0; j < side * side; ++j) {
    const int ox = gap + (j % side) * (tile_w + gap), oy = gap + (j / side) * (tile_h + gap);
    const torch::Tensor atom = atoms[j];
    const double peak = std::max(1e-12, atom.abs().max().item<double>());
    const double* values = atom.data_ptr<double>();
    const bool good = analysis.good[static_cast<size_t>(j)];
    const Pixel frame = good ? Pixel{40, 40, 40} : Pixel{200, 30, 30};
    for (int x = 0; x < tile_w; ++x) {
      canvas.set(ox + x, oy, frame);
      canvas.set(ox + x, oy + tile_h - 1, frame);
    }
    for (int y = 0; y < tile_h; ++y) {
      canvas.set(ox, oy + y, frame);
      canvas.set(ox + tile_w - 1, oy + y, frame);
    }
    for (int y = 0; y < ph * scale; ++y)
      for (int x = 0; x < pw * scale; ++x) {
        const double v = values[(y / scale) * pw + x / scale] / peak;  // [−1, 1]
        const auto g = static_cast<uint8_t>(std::lround(127.5 + 127.5 * v));
        canvas.set(ox + border + x, oy + border + y, {g, g, g});
      }
  }
  canvas.write(path);
}

void write_orientation_map_png(const std::string& path, const WlscAnalysis& analysis, int scale) {
  const int side = static_cast<int>(analysis.side);
  Canvas canvas(side * scale, side * scale, {0, 0, 0});
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) {
      const double theta = analysis.orientation_map[y][x].item<double>();
      if (!std::isfinite(theta)) continue;
      const Pixel c = hue(theta / M_PI);
      for (int dy = 0; dy < scale; ++dy)
        for (int dx = 0; dx < scale; ++dx) canvas.set(x * scale + dx, y * scale + dy, c);
    }
  canvas.write(path);
}

std::string ringach_plane_svg(const WlscAnalysis& analysis) {
  const RingachPlane& plane = analysis.ringach;
  PlotSeries atoms;
  atoms.label = fmt::format("{} well-fit atoms", plane.nx.size());
  atoms.x = plane.nx;
  atoms.y = plane.ny;
  atoms.markers = true;
  atoms.marker_radius = 2;
  // The macaque reference: the square n_x, n_y < reference where most of Ringach's (2002)
  // cells lie (the summary of his figure; analysis/ringach_plane.h).
  const double r = plane.reference;
  PlotSeries macaque;
  macaque.label =
      fmt::format("macaque V1, Ringach 2002: most cells n_x, n_y < {} (the issue's reading)", r);
  macaque.x = {0, r, r};
  macaque.y = {r, r, 0};
  macaque.color = "#c0392b";
  // Axes to 4·reference at most: the bulk stays readable; the few long atoms beyond are
  // counted in the legend (analysis.json has them all).
  const double cap = 4 * r;
  double top = 1.5 * r;
  int64_t beyond = 0;
  for (size_t i = 0; i < plane.nx.size(); ++i) {
    top = std::max({top, plane.nx[i], plane.ny[i]});
    beyond += plane.nx[i] > cap || plane.ny[i] > cap;
  }
  if (beyond > 0) atoms.label += fmt::format(" ({} beyond {} not drawn)", beyond, cap);
  PlotOptions options;
  options.title = fmt::format("Ringach plane: median n_x {:.2f}, n_y {:.2f}; {:.0f} % below {}",
                              plane.median_nx, plane.median_ny, 100 * plane.fraction_below, r);
  options.x_label = "n_x = σ_x·f (across the bars)";
  options.y_label = "n_y = σ_y·f (along the bars)";
  options.x_min = options.y_min = 0;
  options.x_max = options.y_max = std::min(top * 1.05, cap);
  options.width = options.height = 420;
  options.legend_below = true;
  return plot_svg({atoms, macaque}, options);
}

void write_ringach_plane_svg(const std::string& path, const WlscAnalysis& analysis) {
  write_file_atomic(path, ringach_plane_svg(analysis));
}

}  // namespace nosharing
