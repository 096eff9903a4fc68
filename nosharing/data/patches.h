// Whitened natural-image patches for sparse coding (DESIGN §2 `wlsc`, §6 flat folders).
//
// The pipeline, in order (every choice is ours; the WLSC paper published no code — see
// docs/wlsc.md):
//   1. decode every image of a flat folder at its native size (stb_image), greyscale as
//      Rec. 601 luma 0.299 R + 0.587 G + 0.114 B, pixel values / 255;
//   2. box-average downsampling by an integer factor (`patches.downsample`, default 2: it
//      averages away sensor noise and makes 12-pixel patches hold edges rather than
//      near-constant ramps on the 768×512 Kodak photographs);
//   3. whitening `patches.whitening`:
//        "1/f" — Olshausen & Field (1996/1997): each whole image, mean removed, is filtered
//                in the Fourier domain by R(f) = |f|·exp(−(|f|/f₀)⁴), f in cycles per pixel,
//                f₀ = `patches.f0` (default 0.4, their 200 cycles/picture on 512² images),
//                which flattens the 1/f amplitude spectrum and rolls off before Nyquist;
//                patches are then sampled at least one patch side away from the image
//                border (the FFT treats the image as periodic, which rings at its edges);
//        "zca" — on patches: W = U (Λ + εI)^{-1/2} Uᵀ from the covariance of the training
//                patches (after DC removal), ε = `patches.zca_epsilon` × mean eigenvalue
//                (default 0.01, which keeps near-zero high-frequency eigenvalues from being
//                amplified without bound); validation patches use the training W;
//        "none";
//   4. patches sampled uniformly: image uniform over the images of the split, top-left
//      corner uniform over the allowed positions, seeded by (seed, split);
//   5. DC removal: every patch minus its own mean (the dictionary models contrast, not
//      luminance);
//   5b. an optional Gaussian window (`patches.window_sigma` = σ in pixels, 0: none):
//      y_p ← y_p·exp(−‖p − c‖²/2σ²), c the patch centre, applied after whitening. Why: on
//      small patches most positions lie near the border, and an overcomplete dictionary
//      spends many atoms on Gabors cut by it (a fitted centre outside the patch); windowed
//      patches carry little variance near the border, so atoms centred there reconstruct
//      little and the dictionary moves its atoms inside (docs/wlsc.md, RESULTS); the window
//      also bounds the atoms' envelopes;
//   6. contrast normalisation `patches.contrast`:
//        "global" — every patch divided by one number, the root-mean-square norm of the
//                   training patches, so E‖y‖² = 1 and patches are on the scale of
//                   unit-norm atoms (which the bipartite Laplacian form needs, DESIGN §2);
//        "patch"  — divisive normalisation y / √(‖y‖² + c²), c = 0.1 × that RMS norm: every
//                   patch gets a norm below 1, flat patches are not blown up;
//        "none".
// Train and validation patches come from disjoint images: the images are split with
// split_train_val(images, data.val_fraction, 0, seed).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nosharing {

struct ImagePatchOptions {
  int64_t size = 12;          // patch side in pixels (after downsampling)
  int64_t downsample = 2;     // integer box-average factor (1: native resolution)
  std::string whitening = "1/f";  // "1/f" | "zca" | "none"
  double f0 = 0.4;            // 1/f roll-off, cycles per pixel (Nyquist is 0.5)
  double zca_epsilon = 0.01;  // ZCA regulariser, fraction of the mean eigenvalue
  double window_sigma = 0;    // Gaussian window σ in pixels (0: no window)
  std::string contrast = "global";  // "global" | "patch" | "none"
  int64_t train_patches = 50000;
  int64_t val_patches = 5000;
  double val_fraction = 0.1;  // fraction of the images held out for the validation patches
  uint64_t seed = 0;
};

struct ImagePatchSet {
  torch::Tensor train;  // float32 [N_train, 1, size, size]
  torch::Tensor val;    // float32 [N_val, 1, size, size] (N_val = 0 without held-out images)
  std::vector<std::string> train_files;  // images the training patches come from
  std::vector<std::string> val_files;    // held-out images
  double contrast_scale = 1.0;  // the RMS training patch norm divided by ("global", "patch")
};

// Checks the options (UsageError naming the patches.* key, the value and what was expected)
// and builds both splits from the images of `folder`. RuntimeError naming the folder or file
// if there are no images, one cannot be decoded, or an image is smaller than a patch.
ImagePatchSet make_image_patches(const std::string& folder, const ImagePatchOptions& options);

// --- the steps, exposed for testing ---

// Decodes `file` to greyscale float [H, W] in [0, 1] (Rec. 601 luma).
torch::Tensor load_greyscale(const std::string& file);
// Mean over factor × factor blocks: [H, W] → [H / factor, W / factor] (remainders dropped).
torch::Tensor box_downsample(const torch::Tensor& image, int64_t factor);
// 1/f whitening of one image [H, W] (float) with R(f) = |f| exp(−(|f|/f0)⁴).
torch::Tensor whiten_one_over_f(const torch::Tensor& image, double f0);
// `count` patches [count, size, size] from `images`, positions at least `margin` pixels from
// every border, drawn with `seed`.
torch::Tensor sample_patches(const std::vector<torch::Tensor>& images, int64_t count,
                             int64_t size, int64_t margin, uint64_t seed);
// The Gaussian window exp(−‖p − c‖²/2σ²) over a size × size patch, c = ((size − 1)/2,
// (size − 1)/2), flattened row-major to [size·size] (float32).
torch::Tensor gaussian_window(int64_t size, double sigma);
// ZCA matrix [D, D] of rows `patches` [N, D] (centred by the caller).
torch::Tensor fit_zca(const torch::Tensor& patches, double epsilon);

}  // namespace nosharing
