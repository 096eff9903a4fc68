#include "nosharing/data/patches.h"

#include <ATen/ATen.h>
#include <stb/stb_image.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "nosharing/core/error.h"
#include "nosharing/core/seed.h"
#include "nosharing/data/dataset.h"
#include "nosharing/data/image_folder.h"

namespace nosharing {
namespace {

// Stream identifiers in derive_seed: "patches" + split.
constexpr uint64_t kPatchStream = 0x70617463686573ULL;

std::vector<std::string> list_flat_images(const std::string& folder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    throw_runtime("data.path {}: no such folder (expected a flat folder of PNG/JPEG images)",
                  folder);
  }
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file(ec) && is_image_file_name(name)) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw_runtime("data.path {}: no *.png/*.jpg images directly inside", folder);
  return files;
}

// DC removal: each row minus its own mean.
torch::Tensor remove_dc(const torch::Tensor& rows) { return rows - rows.mean(1, true); }

}  // namespace

torch::Tensor load_greyscale(const std::string& file) {
  int width = 0, height = 0, channels = 0;
  uint8_t* pixels = stbi_load(file.c_str(), &width, &height, &channels, 3);
  if (pixels == nullptr) {
    const char* reason = stbi_failure_reason();
    throw_runtime("{}: cannot decode image ({})", file, reason ? reason : "unknown error");
  }
  torch::Tensor rgb =
      torch::from_blob(pixels, {height, width, 3}, torch::kUInt8).to(torch::kFloat32);
  stbi_image_free(pixels);
  const torch::Tensor weights = torch::tensor({0.299f, 0.587f, 0.114f});
  return (rgb * weights).sum(2) / 255.0f;
}

torch::Tensor box_downsample(const torch::Tensor& image, int64_t factor) {
  if (factor == 1) return image;
  const int64_t h = image.size(0) / factor, w = image.size(1) / factor;
  return image.slice(0, 0, h * factor)
      .slice(1, 0, w * factor)
      .reshape({h, factor, w, factor})
      .mean({1, 3});
}

torch::Tensor whiten_one_over_f(const torch::Tensor& image, double f0) {
  const int64_t h = image.size(0), w = image.size(1);
  const torch::Tensor centred = (image - image.mean()).to(torch::kFloat64);
  const torch::Tensor fy = at::fft_fftfreq(h, 1.0, torch::kFloat64).view({h, 1});
  const torch::Tensor fx = at::fft_fftfreq(w, 1.0, torch::kFloat64).view({1, w});
  const torch::Tensor rho = (fy * fy + fx * fx).sqrt();
  const torch::Tensor filter = rho * (-(rho / f0).pow(4)).exp();
  const torch::Tensor spectrum = at::fft_fft2(centred);
  return at::real(at::fft_ifft2(spectrum * filter)).to(torch::kFloat32).contiguous();
}

torch::Tensor sample_patches(const std::vector<torch::Tensor>& images, int64_t count,
                             int64_t size, int64_t margin, uint64_t seed) {
  torch::Tensor out = torch::empty({count, size, size}, torch::kFloat32);
  if (count == 0) return out;
  std::mt19937_64 engine(seed);
  for (int64_t i = 0; i < count; ++i) {
    const torch::Tensor& image =
        images[static_cast<size_t>(uniform_below(engine, images.size()))];
    const int64_t ry = image.size(0) - size - 2 * margin + 1;
    const int64_t rx = image.size(1) - size - 2 * margin + 1;
    const int64_t y = margin + static_cast<int64_t>(uniform_below(engine, static_cast<uint64_t>(ry)));
    const int64_t x = margin + static_cast<int64_t>(uniform_below(engine, static_cast<uint64_t>(rx)));
    out[i].copy_(image.slice(0, y, y + size).slice(1, x, x + size));
  }
  return out;
}

torch::Tensor fit_zca(const torch::Tensor& patches, double epsilon) {
  const torch::Tensor rows = patches.to(torch::kFloat64);
  const torch::Tensor centred = rows - rows.mean(0, true);
  const torch::Tensor covariance = centred.t().mm(centred) / static_cast<double>(rows.size(0));
  auto [eigenvalues, eigenvectors] = at::linalg_eigh(covariance);
  const torch::Tensor values = eigenvalues.clamp_min(0);
  const double floor = epsilon * values.mean().item<double>();
  const torch::Tensor scale = (values + floor).rsqrt();
  return (eigenvectors * scale.view({1, -1})).mm(eigenvectors.t()).to(torch::kFloat32);
}

torch::Tensor gaussian_window(int64_t size, double sigma) {
  const double centre = 0.5 * static_cast<double>(size - 1);
  const torch::Tensor offset =
      torch::arange(size, torch::kFloat64) - centre;  // distance from the centre, per axis
  const torch::Tensor profile = (-offset.pow(2) / (2 * sigma * sigma)).exp();
  return torch::outer(profile, profile).reshape({-1}).to(torch::kFloat32);
}

ImagePatchSet make_image_patches(const std::string& folder, const ImagePatchOptions& o) {
  if (o.size < 2) throw_usage("patches.size = {}: expected ≥ 2 pixels", o.size);
  if (o.downsample < 1) throw_usage("patches.downsample = {}: expected ≥ 1", o.downsample);
  if (o.whitening != "1/f" && o.whitening != "zca" && o.whitening != "none") {
    throw_usage("patches.whitening = \"{}\": expected 1/f, zca or none", o.whitening);
  }
  if (!(o.f0 > 0)) throw_usage("patches.f0 = {}: expected > 0 (cycles per pixel)", o.f0);
  if (!(o.zca_epsilon > 0)) throw_usage("patches.zca_epsilon = {}: expected > 0", o.zca_epsilon);
  if (!(o.window_sigma >= 0)) {
    throw_usage("patches.window_sigma = {}: expected ≥ 0 pixels (0: no window)", o.window_sigma);
  }
  if (o.contrast != "global" && o.contrast != "patch" && o.contrast != "none") {
    throw_usage("patches.contrast = \"{}\": expected global, patch or none", o.contrast);
  }
  if (o.train_patches < 1) throw_usage("patches.train = {}: expected ≥ 1", o.train_patches);
  if (o.val_patches < 0) throw_usage("patches.val = {}: expected ≥ 0", o.val_patches);
  if (o.whitening == "zca" && o.train_patches < o.size * o.size) {
    throw_usage("patches.train = {}: ZCA whitening of {}×{} patches needs at least {} patches",
                o.train_patches, o.size, o.size, o.size * o.size);
  }

  const std::vector<std::string> files = list_flat_images(folder);
  const int64_t n = static_cast<int64_t>(files.size());
  TrainValSplit split = split_train_val(n, o.val_fraction, 0, o.seed);
  if (split.train.numel() == 0) {
    throw_usage("data.val_fraction = {} leaves none of the {} images of {} for training",
                o.val_fraction, n, folder);
  }
  const int64_t margin = o.whitening == "1/f" ? o.size : 0;
  ImagePatchSet set;
  auto prepare = [&](const torch::Tensor& indices, std::vector<std::string>& names) {
    std::vector<torch::Tensor> images;
    const torch::Tensor order = indices.contiguous();
    const int64_t* idx = order.data_ptr<int64_t>();
    for (int64_t i = 0; i < indices.numel(); ++i) {
      const std::string& file = files[static_cast<size_t>(idx[i])];
      torch::Tensor image = box_downsample(load_greyscale(file), o.downsample);
      if (image.size(0) < o.size + 2 * margin || image.size(1) < o.size + 2 * margin) {
        throw_runtime("{}: {}×{} after downsampling by {}, too small for {}-pixel patches "
                      "with a {}-pixel margin",
                      file, image.size(1), image.size(0), o.downsample, o.size, margin);
      }
      if (o.whitening == "1/f") image = whiten_one_over_f(image, o.f0);
      images.push_back(image);
      names.push_back(file);
    }
    return images;
  };
  const int64_t d = o.size * o.size;
  const std::vector<torch::Tensor> train_images = prepare(split.train, set.train_files);
  torch::Tensor train = remove_dc(
      sample_patches(train_images, o.train_patches, o.size, margin,
                     derive_seed(o.seed, kPatchStream, 0)).view({-1, d}));
  torch::Tensor val = torch::empty({0, d}, torch::kFloat32);
  if (split.val.numel() > 0 && o.val_patches > 0) {
    const std::vector<torch::Tensor> val_images = prepare(split.val, set.val_files);
    val = remove_dc(sample_patches(val_images, o.val_patches, o.size, margin,
                                   derive_seed(o.seed, kPatchStream, 1))
                        .view({-1, d}));
  }
  if (o.whitening == "zca") {
    const torch::Tensor zca = fit_zca(train, o.zca_epsilon);
    train = train.mm(zca);  // W is symmetric
    val = val.mm(zca);
  }
  if (o.window_sigma > 0) {
    const torch::Tensor window = gaussian_window(o.size, o.window_sigma).view({1, -1});
    train = train * window;
    val = val * window;
  }
  if (o.contrast != "none") {
    const double rms = train.pow(2).sum(1).mean().sqrt().item<double>();
    set.contrast_scale = rms > 0 ? rms : 1.0;
    train = train / set.contrast_scale;
    val = val / set.contrast_scale;
    if (o.contrast == "patch") {
      const double c2 = 0.01;  // (0.1 × RMS norm)², in units where the RMS norm is 1
      train = train / (train.pow(2).sum(1, true) + c2).sqrt();
      val = val / (val.pow(2).sum(1, true) + c2).sqrt();
    }
  }
  set.train = train.reshape({-1, 1, o.size, o.size}).contiguous();
  set.val = val.reshape({-1, 1, o.size, o.size}).contiguous();
  return set;
}

}  // namespace nosharing
