// Image transforms of the loader: normalisation, random crop with zero padding, horizontal
// flip. The random choices are drawn by the loader (seeded per batch) and passed in, so
// every function here is pure. The reference functions use LibTorch ops and are the oracle
// for prepare_images, the fused raw-pointer path the loader runs.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace nosharing {

// The random choices for one image.
struct ImageAugment {
  int64_t crop_y = 0;  // top-left of the crop in the zero-padded image, in [0, 2·padding]
  int64_t crop_x = 0;
  bool flip = false;  // mirror left-right after cropping
};

// images uint8 [B, C, H, W] → float32 [B, C, H, W]: (pixel / 255 − mean[c]) / std[c].
torch::Tensor normalize_images(const torch::Tensor& images, const std::vector<float>& mean,
                               const std::vector<float>& std);

// images [B, C, H, W] (any dtype) → [B, C, H, W]: image b zero-padded by `padding` on every
// side, then the H × W window at (augments[b].crop_y, augments[b].crop_x) cut out.
// augments: [B]. padding 0 returns the images unchanged.
torch::Tensor crop_with_padding(const torch::Tensor& images, int64_t padding,
                                const std::vector<ImageAugment>& augments);

// images [B, C, H, W] → [B, C, H, W], image b mirrored left-right iff augments[b].flip.
torch::Tensor flip_horizontal(const torch::Tensor& images,
                              const std::vector<ImageAugment>& augments);

// The loader's fused path: gathers images[indices[0 … count)] from uint8 [N, C, H, W]
// (contiguous) and returns float32 [count, C, H, W] equal to
//   normalize_images(flip_horizontal(crop_with_padding(gathered, padding, augments), …), …)
// — padding is black pixels (0) before normalisation, as torchvision's RandomCrop before
// Normalize. `augments` is empty (no crop, no flip) or holds `count` entries.
torch::Tensor prepare_images(const torch::Tensor& images, const int64_t* indices, int64_t count,
                             const std::vector<float>& mean, const std::vector<float>& std,
                             int64_t padding, const std::vector<ImageAugment>& augments);

}  // namespace nosharing
