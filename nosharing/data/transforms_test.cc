#include "nosharing/data/transforms.h"

#include <gtest/gtest.h>

#include <numeric>

namespace nosharing {
namespace transforms_test {  // named, not anonymous: the tests compile in unity batches

// One 1-channel 3 × 3 image with pixels 1 … 9:
//   1 2 3
//   4 5 6
//   7 8 9
torch::Tensor tiny_image() { return torch::arange(1, 10, torch::kUInt8).view({1, 1, 3, 3}); }

TEST(TransformTest, CropWithPaddingShiftsAndFillsZeros) {
  // Offset (0, 0) of a 1-padded image: the window starts one pixel above and left.
  torch::Tensor out = crop_with_padding(tiny_image(), 1, {ImageAugment{0, 0, false}});
  torch::Tensor expected =
      torch::tensor({0, 0, 0, 0, 1, 2, 0, 4, 5}, torch::kUInt8).view({1, 1, 3, 3});
  EXPECT_TRUE(torch::equal(out, expected)) << out;
  // Offset (2, 1): two rows down, no horizontal shift.
  out = crop_with_padding(tiny_image(), 1, {ImageAugment{2, 1, false}});
  expected = torch::tensor({4, 5, 6, 7, 8, 9, 0, 0, 0}, torch::kUInt8).view({1, 1, 3, 3});
  EXPECT_TRUE(torch::equal(out, expected)) << out;
  // The centre offset is the identity.
  EXPECT_TRUE(
      torch::equal(crop_with_padding(tiny_image(), 1, {ImageAugment{1, 1, false}}), tiny_image()));
}

TEST(TransformTest, FlipMirrorsOnlySelectedImages) {
  torch::Tensor two = torch::cat({tiny_image(), tiny_image()});
  torch::Tensor out = flip_horizontal(two, {ImageAugment{0, 0, true}, ImageAugment{0, 0, false}});
  torch::Tensor mirrored =
      torch::tensor({3, 2, 1, 6, 5, 4, 9, 8, 7}, torch::kUInt8).view({1, 3, 3});
  EXPECT_TRUE(torch::equal(out[0], mirrored)) << out;
  EXPECT_TRUE(torch::equal(out[1], tiny_image()[0]));
}

TEST(TransformTest, NormalizeUsesPerChannelMeanAndStd) {
  torch::Tensor images = torch::tensor({0, 255, 51, 102}, torch::kUInt8).view({1, 2, 1, 2});
  torch::Tensor out = normalize_images(images, {0.5f, 0.2f}, {0.5f, 0.1f});
  EXPECT_NEAR(out[0][0][0][0].item<float>(), -1.0f, 1e-6);
  EXPECT_NEAR(out[0][0][0][1].item<float>(), 1.0f, 1e-6);
  EXPECT_NEAR(out[0][1][0][0].item<float>(), 0.0f, 1e-5);
  EXPECT_NEAR(out[0][1][0][1].item<float>(), 2.0f, 1e-5);
}

TEST(TransformTest, PrepareImagesCropsThenFlipsOnTinyImage) {
  // Crop offset (0, 0) with padding 1, then flip: rows 0 0 0 / 2 1 0 / 5 4 0.
  int64_t index = 0;
  torch::Tensor out = prepare_images(tiny_image().contiguous(), &index, 1, {0.0f}, {1.0f / 255.0f},
                                     1, {ImageAugment{0, 0, true}});
  torch::Tensor expected =
      torch::tensor({0, 0, 0, 2, 1, 0, 5, 4, 0}, torch::kFloat32).view({1, 1, 3, 3});
  EXPECT_TRUE(torch::allclose(out, expected)) << out;
}

TEST(TransformTest, PrepareImagesMatchesReferenceComposition) {
  torch::manual_seed(3);
  torch::Tensor images = torch::randint(0, 256, {6, 3, 7, 5}, torch::kUInt8);
  std::vector<int64_t> indices = {4, 0, 5, 5, 2};
  const int64_t padding = 2;
  std::vector<ImageAugment> augments = {
      {0, 4, true}, {2, 2, false}, {4, 0, true}, {1, 3, false}, {3, 1, true}};
  std::vector<float> mean = {0.4f, 0.5f, 0.6f}, std = {0.2f, 0.25f, 0.3f};
  torch::Tensor fast = prepare_images(images, indices.data(), 5, mean, std, padding, augments);
  torch::Tensor gathered = images.index_select(0, torch::tensor(indices));
  torch::Tensor reference = normalize_images(
      flip_horizontal(crop_with_padding(gathered, padding, augments), augments), mean, std);
  EXPECT_TRUE(torch::allclose(fast, reference, 1e-5, 1e-5));
  // Without augments: plain gather and normalise.
  torch::Tensor plain = prepare_images(images, indices.data(), 5, mean, std, 0, {});
  EXPECT_TRUE(torch::allclose(plain, normalize_images(gathered, mean, std), 1e-5, 1e-5));
}

TEST(ShiftTest, ZeroShiftIsTheIdentity) {
  torch::Tensor images = torch::randint(0, 256, {3, 2, 5, 4}, torch::kUInt8);
  std::vector<ImageAugment> none(3);
  EXPECT_TRUE(torch::equal(shift_images(images, none), images));
  std::vector<int64_t> indices = {2, 0, 1};
  torch::Tensor fused = prepare_images(images.contiguous(), indices.data(), 3, {0.0f, 0.0f},
                                       {1.0f / 255, 1.0f / 255}, 0, none);
  EXPECT_TRUE(torch::allclose(
      fused, images.index_select(0, torch::tensor(indices)).to(torch::kFloat32), 0, 1e-4));
}

TEST(ShiftTest, ShiftsMovePixelsAndFillZeros) {
  // One row down, one column left:
  //   0 0 0
  //   2 3 0
  //   5 6 0
  ImageAugment down_left;
  down_left.shift_y = 1;
  down_left.shift_x = -1;
  torch::Tensor expected =
      torch::tensor({0, 0, 0, 2, 3, 0, 5, 6, 0}, torch::kUInt8).view({1, 1, 3, 3});
  torch::Tensor out = shift_images(tiny_image(), {down_left});
  EXPECT_TRUE(torch::equal(out, expected)) << out;
  // Two up, two right leaves the bottom-left pixel 7 at the top right.
  ImageAugment up_right;
  up_right.shift_y = -2;
  up_right.shift_x = 2;
  out = shift_images(tiny_image(), {up_right});
  expected = torch::tensor({0, 0, 7, 0, 0, 0, 0, 0, 0}, torch::kUInt8).view({1, 1, 3, 3});
  EXPECT_TRUE(torch::equal(out, expected)) << out;
  // A shift by the whole side leaves nothing.
  ImageAugment away;
  away.shift_x = 3;
  EXPECT_EQ(shift_images(tiny_image(), {away}).sum().item<int64_t>(), 0);
  // The fused path agrees.
  int64_t index = 0;
  out = prepare_images(tiny_image().contiguous(), &index, 1, {0.0f}, {1.0f / 255.0f}, 0,
                       {down_left});
  EXPECT_TRUE(torch::allclose(out, shift_images(tiny_image(), {down_left}).to(torch::kFloat32)))
      << out;
}

TEST(ShiftTest, PrepareImagesMatchesCropFlipShiftComposition) {
  torch::manual_seed(4);
  torch::Tensor images = torch::randint(0, 256, {6, 3, 7, 5}, torch::kUInt8);
  std::vector<int64_t> indices = {4, 0, 5, 5, 2};
  const int64_t padding = 2;
  std::vector<ImageAugment> augments = {{0, 4, true, 1, -2},
                                        {2, 2, false, -3, 0},
                                        {4, 0, true, 0, 4},
                                        {1, 3, false, 6, -1},
                                        {3, 1, true, -1, 1}};
  std::vector<float> mean = {0.4f, 0.5f, 0.6f}, std = {0.2f, 0.25f, 0.3f};
  torch::Tensor fast = prepare_images(images, indices.data(), 5, mean, std, padding, augments);
  torch::Tensor gathered = images.index_select(0, torch::tensor(indices));
  torch::Tensor reference = normalize_images(
      shift_images(flip_horizontal(crop_with_padding(gathered, padding, augments), augments),
                   augments),
      mean, std);
  EXPECT_TRUE(torch::allclose(fast, reference, 1e-5, 1e-5));
}

TEST(ShiftTest, MaxShiftPixelsRoundsTheFractionOfTheSide) {
  EXPECT_EQ(max_shift_pixels(0.0, 32), 0);
  EXPECT_EQ(max_shift_pixels(0.2, 32), 6);  // 6.4
  EXPECT_EQ(max_shift_pixels(0.3, 32), 10);  // 9.6
  EXPECT_EQ(max_shift_pixels(0.2, 28), 6);  // 5.6
}

TEST(TransformTest, RejectsOffsetsOutsideThePadding) {
  EXPECT_ANY_THROW(crop_with_padding(tiny_image(), 1, {ImageAugment{3, 0, false}}));
  EXPECT_ANY_THROW(crop_with_padding(tiny_image(), 1, {}));
  EXPECT_ANY_THROW(normalize_images(tiny_image(), {0.5f, 0.5f}, {1.0f, 1.0f}));
}

}  // namespace transforms_test
}  // namespace nosharing
