#include "nosharing/data/cifar.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "nosharing/data/dataset.h"
#include "nosharing/data/test_files.h"

namespace nosharing {
namespace cifar_test {  // named, not anonymous: the tests compile in unity batches

using namespace testing_files;
using ::testing::HasSubstr;

// Pixel k of record i is (i * 3 + k) mod 256 (test_files.h); `first` is i of record 0 here.
void expect_pixels(const Dataset& data, int64_t row, int64_t record_in_file) {
  torch::Tensor image = data.images[row].reshape({-1});
  for (int64_t k : {0, 1, 1023, 1024, 2048, 3071}) {
    EXPECT_EQ(image[k].item<uint8_t>(), (record_in_file * 3 + k) % 256) << row << " " << k;
  }
}

TEST(CifarTest, Cifar10RoundTripAcrossBatches) {
  std::string dir = fresh_dir();
  write_bytes(dir + "/data_batch_1.bin", cifar_records({3, 9, 0}, 1));
  write_bytes(dir + "/data_batch_2.bin", cifar_records({7, 1}, 1));
  write_bytes(dir + "/batches.meta.txt", "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n");
  EXPECT_EQ(detect_data_format(dir), DataFormat::kCifar10);
  EXPECT_FALSE(has_test_split(dir));
  Dataset data = load_dataset(dir, Split::kTrain);
  ASSERT_EQ(data.images.sizes(), (std::vector<int64_t>{5, 3, 32, 32}));
  EXPECT_TRUE(torch::equal(data.labels, torch::tensor({3, 9, 0, 7, 1}, torch::kInt64)));
  expect_pixels(data, 1, 1);
  expect_pixels(data, 3, 0);  // first record of data_batch_2
  EXPECT_EQ(data.class_names,
            (std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}));
  EXPECT_EQ(data.format, DataFormat::kCifar10);
}

TEST(CifarTest, Cifar10BatchesAreReadInNumericOrder) {
  std::string dir = fresh_dir();
  write_bytes(dir + "/data_batch_10.bin", cifar_records({5}, 1));
  write_bytes(dir + "/data_batch_2.bin", cifar_records({2}, 1));
  Dataset data = load_dataset(dir, Split::kTrain);
  EXPECT_TRUE(torch::equal(data.labels, torch::tensor({2, 5}, torch::kInt64)));
  EXPECT_EQ(data.class_names[0], "airplane");
}

TEST(CifarTest, Cifar10TestSplit) {
  std::string dir = fresh_dir();
  write_bytes(dir + "/data_batch_1.bin", cifar_records({1}, 1));
  std::string message = runtime_error_of([&] { load_dataset(dir, Split::kTest); });
  EXPECT_THAT(message, HasSubstr(dir + "/test_batch.bin"));
  write_bytes(dir + "/test_batch.bin", cifar_records({4, 8}, 1));
  EXPECT_TRUE(has_test_split(dir));
  Dataset test = load_dataset(dir, Split::kTest);
  EXPECT_TRUE(torch::equal(test.labels, torch::tensor({4, 8}, torch::kInt64)));
}

TEST(CifarTest, TruncatedBatchNamesFileAndSize) {
  std::string dir = fresh_dir();
  std::string bytes = cifar_records({1, 2}, 1);
  write_bytes(dir + "/data_batch_1.bin", bytes.substr(0, bytes.size() - 1));
  std::string message = runtime_error_of([&] { load_dataset(dir, Split::kTrain); });
  EXPECT_THAT(message, HasSubstr(dir + "/data_batch_1.bin"));
  EXPECT_THAT(message, HasSubstr("truncated"));
  EXPECT_THAT(message, HasSubstr("6145"));
  EXPECT_THAT(message, HasSubstr("3073"));
}

TEST(CifarTest, LabelOutOfRange) {
  std::string dir = fresh_dir();
  write_bytes(dir + "/data_batch_1.bin", cifar_records({1, 2, 10}, 1));
  std::string message = runtime_error_of([&] { load_dataset(dir, Split::kTrain); });
  EXPECT_THAT(message, HasSubstr(dir + "/data_batch_1.bin"));
  EXPECT_THAT(message, HasSubstr("label 10 at record 2 out of range [0, 10)"));
}

TEST(CifarTest, WrongNumberOfClassNames) {
  std::string dir = fresh_dir();
  write_bytes(dir + "/data_batch_1.bin", cifar_records({1}, 1));
  write_bytes(dir + "/batches.meta.txt", "cat\ndog\n");
  std::string message = runtime_error_of([&] { load_dataset(dir, Split::kTrain); });
  EXPECT_THAT(message, HasSubstr(dir + "/batches.meta.txt"));
  EXPECT_THAT(message, HasSubstr("2 class names, expected 10"));
}

TEST(CifarTest, Cifar100UsesFineLabels) {
  std::string dir = fresh_dir();
  write_bytes(dir + "/train.bin", cifar_records({99, 0, 42}, 2));
  write_bytes(dir + "/test.bin", cifar_records({17}, 2));
  EXPECT_EQ(detect_data_format(dir), DataFormat::kCifar100);
  EXPECT_TRUE(has_test_split(dir));
  Dataset data = load_dataset(dir, Split::kTrain);
  ASSERT_EQ(data.images.sizes(), (std::vector<int64_t>{3, 3, 32, 32}));
  EXPECT_TRUE(torch::equal(data.labels, torch::tensor({99, 0, 42}, torch::kInt64)));
  expect_pixels(data, 2, 2);
  ASSERT_EQ(data.num_classes(), 100);
  EXPECT_EQ(data.class_names[0], "apple");
  EXPECT_EQ(data.class_names[99], "worm");
  EXPECT_EQ(data.format, DataFormat::kCifar100);
  EXPECT_EQ(load_dataset(dir, Split::kTest).labels[0].item<int64_t>(), 17);
}

TEST(CifarTest, Cifar100TruncatedAndOutOfRange) {
  std::string dir = fresh_dir();
  write_bytes(dir + "/train.bin", cifar_records({1, 100}, 2));
  EXPECT_THAT(runtime_error_of([&] { load_dataset(dir, Split::kTrain); }),
              HasSubstr("label 100 at record 1 out of range [0, 100)"));
  write_bytes(dir + "/train.bin", cifar_records({1}, 1));  // 3073 bytes: not a multiple of 3074
  std::string message = runtime_error_of([&] { load_dataset(dir, Split::kTrain); });
  EXPECT_THAT(message, HasSubstr(dir + "/train.bin"));
  EXPECT_THAT(message, HasSubstr("3074"));
}

TEST(CifarTest, RealCifar10) {
  const std::string dir = NOSHARING_SOURCE_DIR "/../shared/data/cifar-10-batches-bin";
  if (!std::filesystem::exists(dir + "/data_batch_1.bin")) GTEST_SKIP() << dir;
  Dataset data = load_dataset(dir, Split::kTrain);
  EXPECT_EQ(data.images.sizes(), (std::vector<int64_t>{50000, 3, 32, 32}));
  EXPECT_EQ(data.class_names[0], "airplane");
  EXPECT_EQ(torch::bincount(data.labels).min().item<int64_t>(), 5000);
}

}  // namespace cifar_test
}  // namespace nosharing
