// Image transforms of the loader: normalisation, random crop with zero padding, horizontal
// flip, translation (DESIGN §3: random shifts with zero fill, Ott et al. 2020). The random
// choices are drawn by the loader (seeded per batch) and passed in, so every function here
// is pure. The reference functions use LibTorch ops and are the oracle
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
  // Translation applied last (after crop and flip): the content moves shift_y pixels down
  // and shift_x pixels right (negative: up / left); uncovered pixels are black (0).
  int64_t shift_y = 0;
  int64_t shift_x = 0;
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

// images [B, C, H, W] (any dtype) → [B, C, H, W]: out[b](y, x) = images[b](y − shift_y,
// x − shift_x) where that pixel exists, else 0. augments: [B]. Zero shifts are the identity.
torch::Tensor shift_images(const torch::Tensor& images, const std::vector<ImageAugment>& augments);

// The largest shift of translation augmentation along a side of `side` pixels:
// round(max_shift · side) (DESIGN §3: augment.max_shift is a fraction of the image side).
int64_t max_shift_pixels(double max_shift, int64_t side);

// The loader's fused path: gathers images[indices[0 … count)] from uint8 [N, C, H, W]
// (contiguous) and returns float32 [count, C, H, W] equal to
//   normalize_images(shift_images(flip_horizontal(crop_with_padding(gathered, padding,
//                                                 augments), …), …), …)
// — padding and shifted-in pixels are black (0) before normalisation, as torchvision's
// RandomCrop before Normalize. `augments` is empty (no crop, no flip) or holds `count` entries.
torch::Tensor prepare_images(const torch::Tensor& images, const int64_t* indices, int64_t count,
                             const std::vector<float>& mean, const std::vector<float>& std,
                             int64_t padding, const std::vector<ImageAugment>& augments);

}  // namespace nosharing
