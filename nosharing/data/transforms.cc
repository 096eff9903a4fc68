#include "nosharing/data/transforms.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "nosharing/core/error.h"

namespace nosharing {
namespace {

void check_channels(int64_t channels, const std::vector<float>& mean,
                    const std::vector<float>& std) {
  if (static_cast<int64_t>(mean.size()) != channels ||
      static_cast<int64_t>(std.size()) != channels) {
    throw_runtime("normalisation has {} means and {} stds, expected {} (one per channel)",
                  mean.size(), std.size(), channels);
  }
}

void check_augments(int64_t batch, const std::vector<ImageAugment>& augments, int64_t padding) {
  if (static_cast<int64_t>(augments.size()) != batch) {
    throw_runtime("{} image augments for a batch of {}, expected one per image", augments.size(),
                  batch);
  }
  for (const ImageAugment& a : augments) {
    if (a.crop_y < 0 || a.crop_y > 2 * padding || a.crop_x < 0 || a.crop_x > 2 * padding) {
      throw_runtime("crop offset ({}, {}) outside [0, {}] for padding {}", a.crop_y, a.crop_x,
                    2 * padding, padding);
    }
  }
}

}  // namespace

torch::Tensor normalize_images(const torch::Tensor& images, const std::vector<float>& mean,
                               const std::vector<float>& std) {
  check_channels(images.size(1), mean, std);
  torch::Tensor m = torch::tensor(mean).view({1, -1, 1, 1});
  torch::Tensor s = torch::tensor(std).view({1, -1, 1, 1});
  return (images.to(torch::kFloat32) / 255.0f - m) / s;
}

torch::Tensor crop_with_padding(const torch::Tensor& images, int64_t padding,
                                const std::vector<ImageAugment>& augments) {
  check_augments(images.size(0), augments, padding);
  if (padding == 0) return images;
  const int64_t height = images.size(2), width = images.size(3);
  torch::Tensor padded = torch::constant_pad_nd(images, {padding, padding, padding, padding}, 0);
  std::vector<torch::Tensor> crops;
  for (int64_t b = 0; b < images.size(0); ++b) {
    const ImageAugment& a = augments[static_cast<size_t>(b)];
    crops.push_back(padded[b].narrow(1, a.crop_y, height).narrow(2, a.crop_x, width));
  }
  return torch::stack(crops);
}

torch::Tensor flip_horizontal(const torch::Tensor& images,
                              const std::vector<ImageAugment>& augments) {
  check_augments(images.size(0), augments, std::numeric_limits<int64_t>::max() / 4);
  std::vector<torch::Tensor> out;
  for (int64_t b = 0; b < images.size(0); ++b) {
    out.push_back(augments[static_cast<size_t>(b)].flip ? images[b].flip({2}) : images[b]);
  }
  return torch::stack(out);
}

torch::Tensor shift_images(const torch::Tensor& images, const std::vector<ImageAugment>& augments) {
  check_augments(images.size(0), augments, std::numeric_limits<int64_t>::max() / 4);
  const int64_t height = images.size(2), width = images.size(3);
  torch::Tensor out = torch::zeros_like(images);
  for (int64_t b = 0; b < images.size(0); ++b) {
    const ImageAugment& a = augments[static_cast<size_t>(b)];
    // Rows [max(0, s), min(H, H + s)) of the output come from rows shifted back by s.
    const int64_t y0 = std::max<int64_t>(0, a.shift_y), y1 = std::min(height, height + a.shift_y);
    const int64_t x0 = std::max<int64_t>(0, a.shift_x), x1 = std::min(width, width + a.shift_x);
    if (y1 <= y0 || x1 <= x0) continue;  // shifted out entirely
    out[b].narrow(1, y0, y1 - y0).narrow(2, x0, x1 - x0).copy_(
        images[b].narrow(1, y0 - a.shift_y, y1 - y0).narrow(2, x0 - a.shift_x, x1 - x0));
  }
  return out;
}

int64_t max_shift_pixels(double max_shift, int64_t side) {
  return static_cast<int64_t>(std::llround(max_shift * static_cast<double>(side)));
}

torch::Tensor prepare_images(const torch::Tensor& images, const int64_t* indices, int64_t count,
                             const std::vector<float>& mean, const std::vector<float>& std,
                             int64_t padding, const std::vector<ImageAugment>& augments) {
  TORCH_CHECK(images.scalar_type() == torch::kUInt8 && images.dim() == 4 && images.is_contiguous(),
              "prepare_images: expected contiguous uint8 [N, C, H, W] images");
  const int64_t channels = images.size(1), height = images.size(2), width = images.size(3);
  const int64_t plane = height * width;
  check_channels(channels, mean, std);
  const bool augment = !augments.empty();
  if (augment) check_augments(count, augments, padding);

  // One 256-entry table per channel turns normalisation into a lookup.
  std::vector<std::array<float, 256>> table(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    const float scale = 1.0f / (255.0f * std[static_cast<size_t>(c)]);
    const float shift = mean[static_cast<size_t>(c)] / std[static_cast<size_t>(c)];
    for (int v = 0; v < 256; ++v)
      table[static_cast<size_t>(c)][v] = static_cast<float>(v) * scale - shift;
  }

  torch::Tensor out = torch::empty({count, channels, height, width}, torch::kFloat32);
  const uint8_t* src_all = images.data_ptr<uint8_t>();
  float* dst = out.data_ptr<float>();
  const int64_t n = images.size(0);
  for (int64_t b = 0; b < count; ++b) {
    const int64_t index = indices[b];
    TORCH_CHECK(index >= 0 && index < n, "prepare_images: index ", index, " out of range [0, ", n,
                ")");
    const uint8_t* src_image = src_all + index * channels * plane;
    for (int64_t c = 0; c < channels; ++c) {
      const float* lut = table[static_cast<size_t>(c)].data();
      const uint8_t* src = src_image + c * plane;
      float* out_plane = dst + (b * channels + c) * plane;
      if (!augment) {
        for (int64_t p = 0; p < plane; ++p) out_plane[p] = lut[src[p]];
        continue;
      }
      const ImageAugment& a = augments[static_cast<size_t>(b)];
      // Output (y, x) is the cropped-and-flipped pixel (ty, tx) = (y − shift_y, x − shift_x)
      // (black outside the image), which reads source (ty + dy, tx' + dx) with tx' = tx, or
      // W−1−tx when flipped.
      const int64_t dy = a.crop_y - padding, dx = a.crop_x - padding;
      for (int64_t y = 0; y < height; ++y) {
        float* row = out_plane + y * width;
        const int64_t ty = y - a.shift_y;
        const int64_t sy = ty + dy;
        if (ty < 0 || ty >= height || sy < 0 || sy >= height) {
          std::fill(row, row + width, lut[0]);
          continue;
        }
        const uint8_t* src_row = src + sy * width;
        for (int64_t x = 0; x < width; ++x) {
          const int64_t tx = x - a.shift_x;
          if (tx < 0 || tx >= width) {
            row[x] = lut[0];
            continue;
          }
          const int64_t sx = (a.flip ? width - 1 - tx : tx) + dx;
          row[x] = (sx >= 0 && sx < width) ? lut[src_row[sx]] : lut[0];
        }
      }
    }
  }
  return out;
}

}  // namespace nosharing
