#include "nosharing/report/image.h"

#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>

#include "nosharing/core/error.h"
#include "nosharing/core/files.h"

namespace nosharing {

RgbImage::RgbImage(int width, int height, Rgb background)
    : width_(width), height_(height), pixels_(static_cast<size_t>(width) * height * 3) {
  if (width <= 0 || height <= 0) throw_runtime("image: size {}×{} must be positive", width, height);
  fill_rect(0, 0, width, height, background);
}

Rgb RgbImage::at(int x, int y) const {
  const size_t i = (static_cast<size_t>(y) * width_ + x) * 3;
  return {pixels_[i], pixels_[i + 1], pixels_[i + 2]};
}

void RgbImage::set(int x, int y, Rgb color) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  const size_t i = (static_cast<size_t>(y) * width_ + x) * 3;
  pixels_[i] = color.r;
  pixels_[i + 1] = color.g;
  pixels_[i + 2] = color.b;
}

void RgbImage::fill_rect(int x, int y, int w, int h, Rgb color) {
  for (int yy = std::max(0, y); yy < std::min(height_, y + h); ++yy) {
    for (int xx = std::max(0, x); xx < std::min(width_, x + w); ++xx) set(xx, yy, color);
  }
}

void RgbImage::disc(double cx, double cy, double radius, Rgb fill, Rgb outline) {
  const int x0 = static_cast<int>(std::floor(cx - radius - 1));
  const int y0 = static_cast<int>(std::floor(cy - radius - 1));
  for (int y = y0; y <= static_cast<int>(std::ceil(cy + radius + 1)); ++y) {
    for (int x = x0; x <= static_cast<int>(std::ceil(cx + radius + 1)); ++x) {
      const double d = std::hypot(x + 0.5 - cx, y + 0.5 - cy);
      if (d <= radius - 1) {
        set(x, y, fill);
      } else if (d <= radius) {
        set(x, y, outline);
      }
    }
  }
}

std::string encode_png(const RgbImage& image) {
  std::string bytes;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
  };
  if (!stbi_write_png_to_func(append, &bytes, image.width(), image.height(), 3,
                              image.pixels().data(), image.width() * 3)) {
    throw_runtime("PNG encoding of a {}×{} image failed", image.width(), image.height());
  }
  return bytes;
}

void write_png(const std::string& path, const RgbImage& image) {
  write_file_atomic(path, encode_png(image));
}

}  // namespace nosharing
