#include "nosharing/data/idx.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "nosharing/data/dataset.h"
#include "nosharing/data/test_files.h"

namespace nosharing {
namespace idx_test {  // named, not anonymous: the tests compile in unity batches

using namespace testing_files;
using ::testing::HasSubstr;

std::string write_idx_set(const std::string& dir, const std::string& prefix, uint32_t n, bool gz,
                          std::vector<uint8_t> labels = {}) {
  if (labels.empty())
    for (uint32_t i = 0; i < n; ++i) labels.push_back(static_cast<uint8_t>(i % 10));
  const std::string ext = gz ? ".gz" : "";
  write_bytes(dir + "/" + prefix + "-images-idx3-ubyte" + ext, idx_images(n, 4, 3));
  write_bytes(dir + "/" + prefix + "-labels-idx1-ubyte" + ext, idx_labels(labels));
  return dir;
}

void expect_round_trip(const Dataset& data, int64_t n) {
  ASSERT_EQ(data.images.sizes(), (std::vector<int64_t>{n, 1, 4, 3}));
  ASSERT_EQ(data.images.scalar_type(), torch::kUInt8);
  ASSERT_EQ(data.labels.sizes(), (std::vector<int64_t>{n}));
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(data.labels[i].item<int64_t>(), i % 10);
    for (int64_t p = 0; p < 12; ++p) {
      EXPECT_EQ(data.images[i][0][p / 3][p % 3].item<uint8_t>(), (i * 7 + p) % 256);
    }
  }
  EXPECT_EQ(data.num_classes(), 10);
  EXPECT_EQ(data.format, DataFormat::kIdx);
}

TEST(IdxTest, RoundTripPlain) {
  std::string dir = write_idx_set(fresh_dir(), "train", 13, false);
  EXPECT_EQ(detect_data_format(dir), DataFormat::kIdx);
  Dataset data = load_dataset(dir, Split::kTrain);
  expect_round_trip(data, 13);
  EXPECT_EQ(data.class_names[3], "3");
  EXPECT_FALSE(has_test_split(dir));
}

TEST(IdxTest, RoundTripGzAndTestSplit) {
  std::string dir = fresh_dir();
  write_idx_set(dir, "train", 11, true);
  write_idx_set(dir, "t10k", 5, true);
  EXPECT_EQ(detect_data_format(dir), DataFormat::kIdx);
  EXPECT_TRUE(has_test_split(dir));
  expect_round_trip(load_dataset(dir, Split::kTrain), 11);
  expect_round_trip(load_dataset(dir, Split::kTest), 5);
}

TEST(IdxTest, PlainFileWinsOverGzTwin) {
  std::string dir = fresh_dir();
  write_idx_set(dir, "train", 6, false);
  write_bytes(dir + "/train-images-idx3-ubyte.gz", "not read");
  write_bytes(dir + "/train-labels-idx1-ubyte.gz", "not read");
  expect_round_trip(load_dataset(dir, Split::kTrain), 6);
}

TEST(IdxTest, ClassNamesFromFolderName) {
  std::string dir = write_idx_set(fresh_dir() + "/fashion-mnist", "train", 3, false);
  Dataset data = load_dataset(dir, Split::kTrain);
  ASSERT_EQ(data.num_classes(), 10);
  EXPECT_EQ(data.class_names[0], "T-shirt/top");
  EXPECT_EQ(data.class_names[9], "Ankle boot");
  // torchvision's layout: FashionMNIST/raw/.
  std::string raw = write_idx_set(fresh_dir("_raw") + "/FashionMNIST/raw/", "train", 3, false);
  EXPECT_EQ(load_dataset(raw, Split::kTrain).class_names[0], "T-shirt/top");
  std::string digits = write_idx_set(fresh_dir("_digits") + "/mnist", "train", 3, false);
  EXPECT_EQ(load_dataset(digits, Split::kTrain).class_names[0], "0");
}

TEST(IdxTest, MissingTestSplitNamesTheFile) {
  std::string dir = write_idx_set(fresh_dir(), "train", 3, false);
  std::string message = runtime_error_of([&] { load_dataset(dir, Split::kTest); });
  EXPECT_THAT(message, HasSubstr("t10k-images-idx3-ubyte"));
  EXPECT_THAT(message, HasSubstr(dir));
}

TEST(IdxTest, MissingLabelsFile) {
  std::string dir = fresh_dir();
  write_bytes(dir + "/train-images-idx3-ubyte", idx_images(3, 4, 3));
  std::string message = runtime_error_of([&] { load_dataset(dir, Split::kTrain); });
  EXPECT_THAT(message, HasSubstr("train-labels-idx1-ubyte"));
}

TEST(IdxTest, TruncatedImages) {
  std::string dir = write_idx_set(fresh_dir(), "train", 5, false);
  std::string bytes = idx_images(5, 4, 3);
  write_bytes(dir + "/train-images-idx3-ubyte", bytes.substr(0, bytes.size() - 7));
  std::string message = runtime_error_of([&] { load_dataset(dir, Split::kTrain); });
  EXPECT_THAT(message, HasSubstr(dir + "/train-images-idx3-ubyte"));
  EXPECT_THAT(message, HasSubstr("truncated"));
  EXPECT_THAT(message, HasSubstr(std::to_string(bytes.size() - 7)));
  EXPECT_THAT(message, HasSubstr(std::to_string(bytes.size())));
}

TEST(IdxTest, TruncatedGzStream) {
  std::string dir = write_idx_set(fresh_dir(), "train", 200, true);
  std::string path = dir + "/train-images-idx3-ubyte.gz";
  std::string gz = read_file_bytes_for_test(path);
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(gz.data(), gz.size() / 2);
  std::string message = runtime_error_of([&] { load_dataset(dir, Split::kTrain); });
  EXPECT_THAT(message, HasSubstr(path));
}

TEST(IdxTest, TruncatedHeader) {
  std::string dir = write_idx_set(fresh_dir(), "train", 5, false);
  write_bytes(dir + "/train-labels-idx1-ubyte", std::string("\0\0\x08", 3));
  std::string message = runtime_error_of([&] { load_dataset(dir, Split::kTrain); });
  EXPECT_THAT(message, HasSubstr(dir + "/train-labels-idx1-ubyte"));
  EXPECT_THAT(message, HasSubstr("truncated"));
}

TEST(IdxTest, WrongMagic) {
  std::string dir = write_idx_set(fresh_dir(), "train", 5, false);
  write_bytes(dir + "/train-images-idx3-ubyte", idx_images(5, 4, 3, 0x801));
  std::string message = runtime_error_of([&] { load_dataset(dir, Split::kTrain); });
  EXPECT_THAT(message, HasSubstr(dir + "/train-images-idx3-ubyte"));
  EXPECT_THAT(message, HasSubstr("0x00000801"));
  EXPECT_THAT(message, HasSubstr("0x00000803"));
}

TEST(IdxTest, LabelOutOfRange) {
  std::string dir = write_idx_set(fresh_dir(), "train", 7, false, {0, 1, 2, 3, 4, 12, 6});
  std::string message = runtime_error_of([&] { load_dataset(dir, Split::kTrain); });
  EXPECT_THAT(message, HasSubstr(dir + "/train-labels-idx1-ubyte"));
  EXPECT_THAT(message, HasSubstr("label 12 at index 5 out of range [0, 10)"));
}

TEST(IdxTest, CountMismatch) {
  std::string dir = write_idx_set(fresh_dir(), "train", 7, false, {0, 1, 2, 3, 4, 5});
  std::string message = runtime_error_of([&] { load_dataset(dir, Split::kTrain); });
  EXPECT_THAT(message, HasSubstr(dir + "/train-labels-idx1-ubyte"));
  EXPECT_THAT(message, HasSubstr("6 labels, expected 7"));
}

TEST(IdxTest, RealFashionMnist) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz")) GTEST_SKIP() << dir;
  Dataset train = load_dataset(dir, Split::kTrain);
  Dataset test = load_dataset(dir, Split::kTest);
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(test.images.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  EXPECT_EQ(train.class_names[9], "Ankle boot");
  // Fashion-MNIST is balanced: 6000 training images per class.
  EXPECT_EQ(torch::bincount(train.labels).min().item<int64_t>(), 6000);
  EXPECT_TRUE(has_test_split(dir));
}

}  // namespace idx_test
}  // namespace nosharing
