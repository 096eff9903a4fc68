#include "nosharing/report/colormap.h"

#include <gtest/gtest.h>

#include <cmath>

namespace nosharing {
namespace colormap_test {  // named, not anonymous: the tests compile in unity batches

TEST(ColormapTest, CyclicMeetsItselfAndOrientationUsesBrightness) {
  EXPECT_EQ(cyclic_color(0.0), cyclic_color(1.0));
  EXPECT_EQ(cyclic_color(0.25), cyclic_color(-0.75));
  EXPECT_EQ(cyclic_color(0.0), (Rgb{255, 0, 0}));
  EXPECT_FALSE(cyclic_color(0.0) == cyclic_color(0.5));
  // 0° and 180° are the same orientation, hence the same colour.
  EXPECT_EQ(orientation_color(0.0, 1.0, 1.0), orientation_color(M_PI, 1.0, 1.0));
  EXPECT_EQ(orientation_color(0.3, 0.0, 1.0), (Rgb{0, 0, 0}));
  const Rgb half = orientation_color(0.0, 0.25, 0.5);
  EXPECT_EQ(half.r, 128);
  EXPECT_EQ(orientation_color(NAN, 1.0, 1.0), (Rgb{128, 128, 128}));
}

TEST(ColormapTest, DivergingAndSequential) {
  EXPECT_EQ(diverging_color(0.0, 2.0), (Rgb{255, 255, 255}));
  const Rgb red = diverging_color(5.0, 2.0), blue = diverging_color(-2.0, 2.0);
  EXPECT_GT(red.r, red.b);
  EXPECT_GT(blue.b, blue.r);
  EXPECT_EQ(diverging_color(9.0, 2.0), diverging_color(2.0, 2.0));  // clamped
  EXPECT_LT(sequential_color(0.0).r + sequential_color(0.0).g,
            sequential_color(1.0).r + sequential_color(1.0).g);
}

}  // namespace colormap_test
}  // namespace nosharing
