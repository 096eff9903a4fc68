#include "nosharing/data/patches.h"

#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <random>

#include "nosharing/core/error.h"
#include "nosharing/data/test_files.h"

namespace nosharing {
namespace patches_test {  // named, not anonymous: the tests compile in unity batches

using testing_files::fresh_dir;

// A w × h RGB PNG of smooth random texture (sum of a few random sinusoids), so that
// whitening has structure to work on.
void write_texture_png(const std::string& path, int w, int h, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<uint8_t> pixels(static_cast<size_t>(w * h * 3));
  std::vector<std::array<double, 4>> waves(6);
  for (auto& wv : waves) wv = {u(rng) * 0.3, u(rng) * 0.3, u(rng) * 6.28, 20 + 20 * u(rng)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      double v = 128;
      for (const auto& wv : waves) v += wv[3] * std::cos(6.2832 * (wv[0] * x + wv[1] * y) + wv[2]);
      for (int c = 0; c < 3; ++c)
        pixels[static_cast<size_t>((y * w + x) * 3 + c)] =
            static_cast<uint8_t>(std::clamp(v + 10 * c, 0.0, 255.0));
    }
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  ASSERT_NE(stbi_write_png(path.c_str(), w, h, 3, pixels.data(), w * 3), 0);
}

TEST(PatchesTest, GreyscaleIsRec601Luma) {
  const std::string dir = fresh_dir();
  const uint8_t pixel[3] = {200, 100, 50};
  ASSERT_NE(stbi_write_png((dir + "/a.png").c_str(), 1, 1, 3, pixel, 3), 0);
  const torch::Tensor grey = load_greyscale(dir + "/a.png");
  ASSERT_EQ(grey.sizes(), (std::vector<int64_t>{1, 1}));
  EXPECT_NEAR(grey.item<float>(), (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255.0, 1e-6);
}

TEST(PatchesTest, BoxDownsampleAveragesBlocksAndDropsRemainders) {
  const torch::Tensor image = torch::arange(20, torch::kFloat32).view({4, 5});
  const torch::Tensor out = box_downsample(image, 2);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{2, 2}));
  // Block (0, 0) holds 0, 1, 5, 6.
  EXPECT_FLOAT_EQ(out[0][0].item<float>(), 3.0f);
  EXPECT_FLOAT_EQ(out[1][1].item<float>(), (12 + 13 + 17 + 18) / 4.0f);
  EXPECT_TRUE(box_downsample(image, 1).equal(image));
}

TEST(PatchesTest, OneOverFWhiteningScalesASinusoidByTheFilterGain) {
  // A grating at an exact FFT frequency is an eigenfunction of the filter: the output is
  // the input times R(f) = f·exp(−(f/f0)⁴), and a constant offset disappears.
  const int64_t n = 32;
  const double fx = 3.0 / n, fy = 5.0 / n, f0 = 0.4;
  const torch::Tensor y = torch::arange(n, torch::kFloat64).view({n, 1});
  const torch::Tensor x = torch::arange(n, torch::kFloat64).view({1, n});
  const torch::Tensor grating = (2 * M_PI * (fx * x + fy * y)).cos();
  const torch::Tensor out = whiten_one_over_f((grating + 7.0).to(torch::kFloat32), f0);
  const double f = std::sqrt(fx * fx + fy * fy);
  const double gain = f * std::exp(-std::pow(f / f0, 4));
  EXPECT_TRUE(out.to(torch::kFloat64).allclose(grating * gain, 1e-5, 1e-5));
}

TEST(PatchesTest, SamplePatchesAreSeededSlicesAwayFromTheBorder) {
  const torch::Tensor image = torch::arange(30 * 40, torch::kFloat32).view({30, 40});
  const torch::Tensor a = sample_patches({image}, 200, 6, 5, 42);
  EXPECT_TRUE(a.equal(sample_patches({image}, 200, 6, 5, 42)));
  EXPECT_FALSE(a.equal(sample_patches({image}, 200, 6, 5, 43)));
  for (int64_t i = 0; i < a.size(0); ++i) {
    const int64_t top_left = static_cast<int64_t>(a[i][0][0].item<float>());
    const int64_t y = top_left / 40, x = top_left % 40;
    ASSERT_GE(y, 5);
    ASSERT_GE(x, 5);
    ASSERT_LE(y + 6, 30 - 5);
    ASSERT_LE(x + 6, 40 - 5);
    ASSERT_TRUE(a[i].equal(image.slice(0, y, y + 6).slice(1, x, x + 6)));
  }
}

TEST(PatchesTest, ZcaWhitensCorrelatedData) {
  torch::manual_seed(0);
  const torch::Tensor mixing = torch::randn({5, 5}, torch::kFloat64) + 2 * torch::eye(5, torch::kFloat64);
  const torch::Tensor data = (torch::randn({20000, 5}, torch::kFloat64).mm(mixing)).to(torch::kFloat32);
  const torch::Tensor zca = fit_zca(data, 1e-9);
  EXPECT_TRUE(zca.allclose(zca.t(), 1e-4, 1e-4));
  const torch::Tensor centred = data - data.mean(0, true);
  const torch::Tensor white = centred.mm(zca);
  const torch::Tensor covariance = white.t().mm(white) / data.size(0);
  EXPECT_TRUE(covariance.allclose(torch::eye(5), 1e-3, 1e-3)) << covariance;
}

// A fresh folder of `count` texture PNGs of width × height.
std::string texture_folder(int count, int width, int height) {
  const std::string dir = fresh_dir();
  for (int i = 0; i < count; ++i) {
    write_texture_png(dir + fmt::format("/img{}.png", i), width, height, i);
  }
  return dir;
}

// 8×8 patches at native resolution, a fifth of the images held out.
ImagePatchOptions small_patch_options(int64_t train, int64_t val) {
  ImagePatchOptions o;
  o.size = 8;
  o.downsample = 1;
  o.train_patches = train;
  o.val_patches = val;
  o.val_fraction = 0.2;
  return o;
}

TEST(PatchesTest, PatchSetSplitsImagesAndNormalisesContrast) {
  const std::string dir = texture_folder(10, 64, 48);
  ImagePatchOptions o = small_patch_options(300, 50);
  for (const std::string whitening : {"1/f", "zca", "none"}) {
    o.whitening = whitening;
    const ImagePatchSet set = make_image_patches(dir, o);
    ASSERT_EQ(set.train.sizes(), (std::vector<int64_t>{300, 1, 8, 8})) << whitening;
    ASSERT_EQ(set.val.sizes(), (std::vector<int64_t>{50, 1, 8, 8})) << whitening;
    EXPECT_EQ(set.train_files.size(), 8u);
    EXPECT_EQ(set.val_files.size(), 2u);
    for (const auto& f : set.val_files) {
      EXPECT_EQ(std::count(set.train_files.begin(), set.train_files.end(), f), 0) << f;
    }
    // Global contrast: mean squared training-patch norm 1; every patch zero-mean.
    const torch::Tensor rows = set.train.view({300, -1}).to(torch::kFloat64);
    EXPECT_NEAR(rows.pow(2).sum(1).mean().item<double>(), 1.0, 1e-4) << whitening;
    EXPECT_LT(rows.mean(1).abs().max().item<double>(), 1e-5) << whitening;
    EXPECT_TRUE(set.train.equal(make_image_patches(dir, o).train)) << "seeded: " << whitening;
  }
  o.contrast = "patch";
  const ImagePatchSet divisive = make_image_patches(dir, o);
  EXPECT_LT(divisive.train.view({300, -1}).pow(2).sum(1).max().item<float>(), 1.0f);
}

TEST(PatchesTest, GaussianWindowWeighsEveryPatchBeforeContrast) {
  // The window by hand: symmetric, 1 − ε near the centre, exp(−r²/2σ²) at a corner.
  const torch::Tensor w = gaussian_window(4, 1.5).view({4, 4});
  EXPECT_TRUE(w.allclose(w.t()) && w.allclose(w.flip({0})) && w.allclose(w.flip({1})));
  EXPECT_NEAR(w[1][1].item<float>(), std::exp(-2 * 0.25 / (2 * 2.25)), 1e-6);
  EXPECT_NEAR(w[0][3].item<float>(), std::exp(-2 * 2.25 / (2 * 2.25)), 1e-6);

  const std::string dir = texture_folder(6, 48, 40);
  ImagePatchOptions o = small_patch_options(200, 20);
  o.contrast = "none";
  const ImagePatchSet plain = make_image_patches(dir, o);
  o.window_sigma = 2.0;
  const ImagePatchSet windowed = make_image_patches(dir, o);
  const torch::Tensor window = gaussian_window(8, 2.0).view({1, 1, 8, 8});
  EXPECT_TRUE(windowed.train.allclose(plain.train * window, 1e-6, 1e-7));
  EXPECT_TRUE(windowed.val.allclose(plain.val * window, 1e-6, 1e-7));
  // With global contrast the windowed patches are rescaled to E‖y‖² = 1 again.
  o.contrast = "global";
  const torch::Tensor rows = make_image_patches(dir, o).train.view({200, -1}).to(torch::kFloat64);
  EXPECT_NEAR(rows.pow(2).sum(1).mean().item<double>(), 1.0, 1e-4);
  o.window_sigma = -1;
  const std::string message = testing_files::usage_error_of([&] { make_image_patches(dir, o); });
  EXPECT_NE(message.find("patches.window_sigma = -1"), std::string::npos) << message;
}

TEST(PatchesTest, BadOptionsAndFoldersAreNamedErrors) {
  ImagePatchOptions o;
  o.whitening = "pca";
  EXPECT_THROW(
      {
        try {
          make_image_patches("/nonexistent", o);
        } catch (const UsageError& e) {
          EXPECT_NE(std::string(e.what()).find("patches.whitening = \"pca\""), std::string::npos);
          throw;
        }
      },
      UsageError);
  o = ImagePatchOptions();
  const std::string message =
      testing_files::runtime_error_of([&] { make_image_patches("/nonexistent/kodak", o); });
  EXPECT_NE(message.find("/nonexistent/kodak"), std::string::npos) << message;
  const std::string dir = fresh_dir();
  write_texture_png(dir + "/tiny.png", 10, 10, 1);
  write_texture_png(dir + "/tiny2.png", 10, 10, 2);
  o.val_fraction = 0;
  const std::string small = testing_files::runtime_error_of([&] { make_image_patches(dir, o); });
  EXPECT_NE(small.find("too small"), std::string::npos) << small;
}

}  // namespace patches_test
}  // namespace nosharing
