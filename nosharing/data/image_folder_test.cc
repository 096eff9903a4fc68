#include "nosharing/data/image_folder.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "nosharing/data/dataset.h"
#include "nosharing/data/test_files.h"

namespace nosharing {
namespace image_folder_test {  // named, not anonymous: the tests compile in unity batches

using namespace testing_files;
using ::testing::HasSubstr;

TEST(FolderTest, LabelledPngRoundTripIsExact) {
  std::string dir = fresh_dir();
  write_png(dir + "/cat/a.png", 8, 8, 3, 1);
  write_png(dir + "/cat/deeper/b.PNG", 8, 8, 3, 2);
  write_png(dir + "/ant/c.png", 8, 8, 3, 3);
  write_bytes(dir + "/ant/notes.txt", "not an image");
  write_bytes(dir + "/ant/._c.png", "macOS resource fork, not an image");
  EXPECT_EQ(detect_data_format(dir), DataFormat::kImageFolder);
  EXPECT_FALSE(has_test_split(dir));
  LoadOptions options;
  options.image_size = 8;
  Dataset data = load_dataset(dir, Split::kTrain, options);
  EXPECT_EQ(data.class_names, (std::vector<std::string>{"ant", "cat"}));
  ASSERT_EQ(data.images.sizes(), (std::vector<int64_t>{3, 3, 8, 8}));
  // Sorted: ant/c.png, cat/a.png, cat/deeper/b.PNG.
  EXPECT_TRUE(torch::equal(data.labels, torch::tensor({0, 1, 1}, torch::kInt64)));
  std::vector<uint8_t> expected = test_pixels(8, 8, 3, 2);  // [H, W, C]
  torch::Tensor hwc = torch::from_blob(expected.data(), {8, 8, 3}, torch::kUInt8);
  EXPECT_TRUE(torch::equal(data.images[2], hwc.permute({2, 0, 1})));
  EXPECT_EQ(data.format, DataFormat::kImageFolder);
}

TEST(FolderTest, JpegsAreResizedToImageSize) {
  std::string dir = fresh_dir();
  write_jpg(dir + "/b/x.jpg", 20, 12, 3, 5);
  write_jpg(dir + "/a/y.jpeg", 16, 16, 3, 9);
  write_jpg(dir + "/a/z.JPEG", 7, 9, 3, 11);
  LoadOptions options;
  options.image_size = 10;
  Dataset data = load_dataset(dir, Split::kTrain, options);
  ASSERT_EQ(data.images.sizes(), (std::vector<int64_t>{3, 3, 10, 10}));
  EXPECT_TRUE(torch::equal(data.labels, torch::tensor({0, 0, 1}, torch::kInt64)));
  // Pixel (0, 0) of the seed-9 image is (9, 59, 109) before JPEG and resizing.
  torch::Tensor corner = data.images[0].select(1, 0).select(1, 0).to(torch::kInt32);
  EXPECT_NEAR(corner[0].item<int>(), 9, 12);
  EXPECT_NEAR(corner[1].item<int>(), 59, 12);
  EXPECT_NEAR(corner[2].item<int>(), 109, 12);
}

TEST(FolderTest, AllGreyKeepsOneChannelMixedGivesThree) {
  std::string dir = fresh_dir();
  write_png(dir + "/a/g1.png", 6, 6, 1, 1);
  write_png(dir + "/b/g2.png", 6, 6, 2, 2);  // grey + alpha (stb writes every JPEG as colour)
  LoadOptions options;
  options.image_size = 6;
  Dataset grey = load_dataset(dir, Split::kTrain, options);
  ASSERT_EQ(grey.images.sizes(), (std::vector<int64_t>{2, 1, 6, 6}));
  std::vector<uint8_t> expected = test_pixels(6, 6, 1, 1);
  EXPECT_TRUE(
      torch::equal(grey.images[0][0], torch::from_blob(expected.data(), {6, 6}, torch::kUInt8)));

  write_png(dir + "/b/colour.png", 6, 6, 3, 3);
  Dataset mixed = load_dataset(dir, Split::kTrain, options);
  ASSERT_EQ(mixed.images.sizes(), (std::vector<int64_t>{3, 3, 6, 6}));
  // The grey PNG is replicated into three equal channels.
  EXPECT_TRUE(torch::equal(mixed.images[0][0], mixed.images[0][2]));
  EXPECT_TRUE(torch::equal(mixed.images[0][0], grey.images[0][0]));
}

TEST(FolderTest, TinyImageNetLayoutUsesTrainAndIgnoresUnlabelledVal) {
  std::string dir = fresh_dir();
  write_png(dir + "/train/n02/images/n02_0.png", 4, 4, 3, 1);
  write_png(dir + "/train/n01/images/n01_0.png", 4, 4, 3, 2);
  write_png(dir + "/train/n01/images/n01_1.png", 4, 4, 3, 3);
  write_bytes(dir + "/train/n01/n01_boxes.txt", "boxes");
  write_png(dir + "/val/images/val_0.png", 4, 4, 3, 4);
  write_bytes(dir + "/val/val_annotations.txt", "val_0.png n01");
  write_png(dir + "/test/images/test_0.png", 4, 4, 3, 5);
  EXPECT_EQ(detect_data_format(dir), DataFormat::kImageFolder);
  EXPECT_FALSE(has_test_split(dir));
  LoadOptions options;
  options.image_size = 4;
  Dataset data = load_dataset(dir, Split::kTrain, options);
  EXPECT_EQ(data.class_names, (std::vector<std::string>{"n01", "n02"}));
  EXPECT_TRUE(torch::equal(data.labels, torch::tensor({0, 0, 1}, torch::kInt64)));
  std::string message = runtime_error_of([&] { load_dataset(dir, Split::kTest, options); });
  EXPECT_THAT(message, HasSubstr(dir));
  EXPECT_THAT(message, HasSubstr("no test split"));
}

TEST(FolderTest, LabelledTestSplitSharesTrainingClassIndices) {
  std::string dir = fresh_dir();
  write_png(dir + "/train/a/0.png", 4, 4, 3, 1);
  write_png(dir + "/train/b/0.png", 4, 4, 3, 2);
  write_png(dir + "/train/c/0.png", 4, 4, 3, 3);
  write_png(dir + "/test/c/0.png", 4, 4, 3, 4);
  write_png(dir + "/test/c/1.png", 4, 4, 3, 5);
  EXPECT_TRUE(has_test_split(dir));
  LoadOptions options;
  options.image_size = 4;
  Dataset test = load_dataset(dir, Split::kTest, options);
  EXPECT_EQ(test.class_names, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(torch::equal(test.labels, torch::tensor({2, 2}, torch::kInt64)));
}

TEST(FolderTest, FlatFolderIsUnlabelled) {
  std::string dir = fresh_dir();
  write_png(dir + "/kodim01.png", 12, 8, 3, 1);
  write_jpg(dir + "/kodim02.jpg", 8, 12, 3, 2);
  EXPECT_EQ(detect_data_format(dir), DataFormat::kFlatImages);
  EXPECT_FALSE(has_test_split(dir));
  LoadOptions options;
  options.image_size = 5;
  Dataset data = load_dataset(dir, Split::kTrain, options);
  ASSERT_EQ(data.images.sizes(), (std::vector<int64_t>{2, 3, 5, 5}));
  EXPECT_TRUE(torch::equal(data.labels, torch::full({2}, -1, torch::kInt64)));
  EXPECT_TRUE(data.class_names.empty());
  EXPECT_EQ(data.format, DataFormat::kFlatImages);
  EXPECT_THROW(load_dataset(dir, Split::kTest, options), RuntimeError);
}

TEST(FolderTest, EmptyFolderSaysWhatWasLookedFor) {
  std::string dir = fresh_dir();
  std::filesystem::create_directories(dir + "/empty_class");
  write_bytes(dir + "/readme.txt", "no images here");
  std::string message = runtime_error_of([&] { load_dataset(dir, Split::kTrain); });
  EXPECT_THAT(message, HasSubstr("no images found under " + dir));
  EXPECT_THAT(message, HasSubstr("png"));
}

TEST(FolderTest, EmptyClassFolderIsAnError) {
  std::string dir = fresh_dir();
  write_png(dir + "/a/0.png", 4, 4, 3, 1);
  std::filesystem::create_directories(dir + "/b");
  std::string message = runtime_error_of([&] { load_dataset(dir, Split::kTrain); });
  EXPECT_THAT(message, HasSubstr(dir + "/b"));
  EXPECT_THAT(message, HasSubstr("no images"));
}

TEST(FolderTest, CorruptPngNamesTheFile) {
  std::string dir = fresh_dir();
  write_png(dir + "/a/good.png", 4, 4, 3, 1);
  std::string png = read_file_bytes_for_test(dir + "/a/good.png");
  write_bytes(dir + "/b/bad.png", png.substr(0, 20));
  write_bytes(dir + "/b/garbage.png", "this is not a PNG at all");
  std::string message = runtime_error_of([&] { load_dataset(dir, Split::kTrain); });
  EXPECT_THAT(message, HasSubstr(dir + "/b/bad.png"));  // the first bad file in sorted order
  EXPECT_THAT(message, HasSubstr("cannot decode"));
}

TEST(FolderTest, ImageFileNames) {
  EXPECT_TRUE(is_image_file_name("a.png"));
  EXPECT_TRUE(is_image_file_name("a.JPEG"));
  EXPECT_TRUE(is_image_file_name("a.b.Jpg"));
  EXPECT_FALSE(is_image_file_name("._a.png"));
  EXPECT_FALSE(is_image_file_name("a.gif"));
  EXPECT_FALSE(is_image_file_name("png"));
}

TEST(FolderTest, BadImageSizeIsUsageError) {
  std::string dir = fresh_dir();
  write_png(dir + "/a/0.png", 4, 4, 3, 1);
  LoadOptions options;
  options.image_size = 0;
  EXPECT_THROW(load_dataset(dir, Split::kTrain, options), UsageError);
}

TEST(FolderTest, RealKodakIsAFlatFolder) {
  const std::string dir = NOSHARING_SOURCE_DIR "/../shared/data/natural/kodak";
  if (!std::filesystem::exists(dir + "/kodim01.png")) GTEST_SKIP() << dir;
  EXPECT_EQ(detect_data_format(dir), DataFormat::kFlatImages);
  LoadOptions options;
  options.image_size = 64;
  Dataset data = load_dataset(dir, Split::kTrain, options);
  EXPECT_EQ(data.images.sizes(), (std::vector<int64_t>{24, 3, 64, 64}));
  EXPECT_EQ(data.num_classes(), 0);
}

}  // namespace image_folder_test
}  // namespace nosharing
