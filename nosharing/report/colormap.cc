#include "nosharing/report/colormap.h"

#include <algorithm>
#include <cmath>

namespace nosharing {
namespace {

uint8_t byte(double v) {
  return static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0));
}

constexpr Rgb kGrey{128, 128, 128};

}  // namespace

Rgb cyclic_color(double fraction) {
  if (!std::isfinite(fraction)) return kGrey;
  const double h = (fraction - std::floor(fraction)) * 6.0;  // [0, 6)
  const int sector = static_cast<int>(h) % 6;
  const double f = h - std::floor(h);
  double r = 0, g = 0, b = 0;
  switch (sector) {
    case 0:
      r = 1;
      g = f;
      b = 0;
      break;
    case 1:
      r = 1 - f;
      g = 1;
      b = 0;
      break;
    case 2:
      r = 0;
      g = 1;
      b = f;
      break;
    case 3:
      r = 0;
      g = 1 - f;
      b = 1;
      break;
    case 4:
      r = f;
      g = 0;
      b = 1;
      break;
    default:
      r = 1;
      g = 0;
      b = 1 - f;
      break;
  }
  return {byte(r), byte(g), byte(b)};
}

Rgb orientation_color(double theta, double selectivity, double full_selectivity) {
  if (!std::isfinite(theta) || !std::isfinite(selectivity)) return kGrey;
  const Rgb hue = cyclic_color(theta / M_PI);
  const double v =
      full_selectivity > 0 ? std::clamp(selectivity / full_selectivity, 0.0, 1.0) : 1.0;
  return {byte(hue.r / 255.0 * v), byte(hue.g / 255.0 * v), byte(hue.b / 255.0 * v)};
}

Rgb diverging_color(double value, double limit) {
  if (!std::isfinite(value)) return kGrey;
  const double t = limit > 0 ? std::clamp(value / limit, -1.0, 1.0) : 0.0;
  // White at 0, towards (0.13, 0.4, 0.75) blue and (0.8, 0.1, 0.1) red.
  if (t >= 0) return {byte(1 - 0.2 * t), byte(1 - 0.9 * t), byte(1 - 0.9 * t)};
  const double s = -t;
  return {byte(1 - 0.87 * s), byte(1 - 0.6 * s), byte(1 - 0.25 * s)};
}

Rgb sequential_color(double t) {
  if (!std::isfinite(t)) return kGrey;
  t = std::clamp(t, 0.0, 1.0);
  // Three anchors, linearly interpolated: (0.15, 0.1, 0.35) → (0.1, 0.55, 0.55) → (0.98, 0.9,
  // 0.15).
  const double a[3][3] = {{0.15, 0.1, 0.35}, {0.1, 0.55, 0.55}, {0.98, 0.9, 0.15}};
  const int i = t < 0.5 ? 0 : 1;
  const double f = t < 0.5 ? t * 2 : (t - 0.5) * 2;
  return {byte(a[i][0] + f * (a[i + 1][0] - a[i][0])), byte(a[i][1] + f * (a[i + 1][1] - a[i][1])),
          byte(a[i][2] + f * (a[i + 1][2] - a[i][2]))};
}

}  // namespace nosharing
