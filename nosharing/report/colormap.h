// Colour maps of the report's figures.
#pragma once

#include <cstdint>

namespace nosharing {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
};

// A cyclic hue wheel: fraction and fraction + 1 give the same colour (HSV with full
// saturation and value). Orientation maps use fraction = θ/π, so 0° and 180° meet.
Rgb cyclic_color(double fraction);

// Orientation θ (radians) as hue, selectivity as brightness: black for an unselective unit,
// the full hue at `full_selectivity` and above. NaN θ draws grey.
Rgb orientation_color(double theta, double selectivity, double full_selectivity);

// Blue (−limit) → white (0) → red (+limit), clamped; NaN draws grey. For d′ maps.
Rgb diverging_color(double value, double limit);

// Dark blue (0) → teal → yellow (1), clamped.
Rgb sequential_color(double t);

}  // namespace nosharing
