// A small RGB raster for the report's map figures, and PNG output (stb_image_write, Debian
// libstb-dev: the implementation is compiled into libstb, so it is only declared here).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nosharing/report/colormap.h"

namespace nosharing {

class RgbImage {
 public:
  RgbImage(int width, int height, Rgb background = {255, 255, 255});

  int width() const { return width_; }
  int height() const { return height_; }
  Rgb at(int x, int y) const;
  void set(int x, int y, Rgb color);  // ignored outside the image
  void fill_rect(int x, int y, int w, int h, Rgb color);
  // A filled disc with an outline of 1 pixel.
  void disc(double cx, double cy, double radius, Rgb fill, Rgb outline);
  const std::vector<uint8_t>& pixels() const { return pixels_; }  // row-major RGB

 private:
  int width_, height_;
  std::vector<uint8_t> pixels_;
};

// PNG bytes of an image.
std::string encode_png(const RgbImage& image);
// Writes a PNG atomically; RuntimeError naming the path on failure.
void write_png(const std::string& path, const RgbImage& image);

}  // namespace nosharing
