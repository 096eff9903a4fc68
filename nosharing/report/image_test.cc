#include "nosharing/report/image.h"

#include <gtest/gtest.h>
#include <stb/stb_image.h>

namespace nosharing {
namespace image_test {  // named, not anonymous: the tests compile in unity batches

TEST(ImageTest, PngRoundTripsThroughStbImage) {
  RgbImage image(7, 5);
  image.fill_rect(1, 1, 2, 3, {10, 20, 30});
  image.set(6, 4, {200, 100, 50});
  image.set(99, 99, {1, 2, 3});  // outside: ignored
  const std::string png = encode_png(image);
  int w = 0, h = 0, c = 0;
  unsigned char* pixels = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(png.data()),
                                                static_cast<int>(png.size()), &w, &h, &c, 3);
  ASSERT_NE(pixels, nullptr);
  EXPECT_EQ(w, 7);
  EXPECT_EQ(h, 5);
  EXPECT_EQ(pixels[(3 * 7 + 2) * 3 + 2], 30);  // inside the rectangle
  EXPECT_EQ(pixels[(4 * 7 + 6) * 3 + 0], 200);
  EXPECT_EQ(pixels[0], 255);  // background
  stbi_image_free(pixels);
}

TEST(ImageTest, DiscHasOutlineAndFill) {
  RgbImage image(21, 21);
  image.disc(10.5, 10.5, 6, {0, 0, 0}, {255, 0, 0});
  EXPECT_EQ(image.at(10, 10), (Rgb{0, 0, 0}));
  EXPECT_EQ(image.at(10, 4).r, 255);
  EXPECT_EQ(image.at(10, 4).g, 0);
  EXPECT_EQ(image.at(0, 0), (Rgb{255, 255, 255}));
}

}  // namespace image_test
}  // namespace nosharing
