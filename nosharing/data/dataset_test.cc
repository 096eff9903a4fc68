#include "nosharing/data/dataset.h"

#include <gtest/gtest.h>

#include <set>

#include "nosharing/data/test_files.h"

namespace nosharing {
namespace dataset_test {  // named, not anonymous: the tests compile in unity batches

using namespace testing_files;
using ::testing::HasSubstr;

TEST(DataTest, MissingFolder) {
  std::string dir = fresh_dir() + "/nope";
  EXPECT_EQ(runtime_error_of([&] { detect_data_format(dir); }),
            "data.path " + dir + ": no such folder");
  EXPECT_THROW(load_dataset(dir, Split::kTrain), RuntimeError);
}

TEST(DataTest, UnrecognisedFolderListsWhatWasLookedFor) {
  std::string dir = fresh_dir();
  write_bytes(dir + "/data.csv", "1,2,3");
  std::string message = runtime_error_of([&] { detect_data_format(dir); });
  EXPECT_THAT(message, HasSubstr(dir));
  EXPECT_THAT(message, HasSubstr("idx3-ubyte"));
  EXPECT_THAT(message, HasSubstr("data_batch_*.bin"));
  EXPECT_THAT(message, HasSubstr("train.bin"));
  EXPECT_THAT(message, HasSubstr("<class>/**/*.{png,jpg,jpeg}"));
}

TEST(DataTest, DetectionPrefersIdxThenCifar10ThenCifar100ThenFolders) {
  std::string dir = fresh_dir();
  write_png(dir + "/flat.png", 4, 4, 3, 0);
  EXPECT_EQ(detect_data_format(dir), DataFormat::kFlatImages);
  write_png(dir + "/cls/0.png", 4, 4, 3, 0);
  EXPECT_EQ(detect_data_format(dir), DataFormat::kImageFolder);
  write_bytes(dir + "/train.bin", cifar_records({1}, 2));
  EXPECT_EQ(detect_data_format(dir), DataFormat::kCifar100);
  write_bytes(dir + "/data_batch_1.bin", cifar_records({1}, 1));
  EXPECT_EQ(detect_data_format(dir), DataFormat::kCifar10);
  write_bytes(dir + "/train-images-idx3-ubyte.gz", idx_images(1, 2, 2));
  EXPECT_EQ(detect_data_format(dir), DataFormat::kIdx);
}

TEST(DataTest, FormatNames) {
  EXPECT_STREQ(data_format_name(DataFormat::kIdx), "idx");
  EXPECT_STREQ(data_format_name(DataFormat::kCifar10), "cifar10");
  EXPECT_STREQ(data_format_name(DataFormat::kCifar100), "cifar100");
  EXPECT_STREQ(data_format_name(DataFormat::kImageFolder), "image_folder");
  EXPECT_STREQ(data_format_name(DataFormat::kFlatImages), "flat_images");
}

std::vector<int64_t> to_vector(const torch::Tensor& t) {
  torch::Tensor c = t.contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

TEST(SplitTest, DeterministicDisjointAndCovering) {
  TrainValSplit a = split_train_val(1000, 0.1, 0, 7);
  TrainValSplit b = split_train_val(1000, 0.1, 0, 7);
  EXPECT_TRUE(torch::equal(a.train, b.train));
  EXPECT_TRUE(torch::equal(a.val, b.val));
  EXPECT_EQ(a.train.numel(), 900);
  EXPECT_EQ(a.val.numel(), 100);
  std::set<int64_t> all;
  for (int64_t i : to_vector(a.train)) all.insert(i);
  for (int64_t i : to_vector(a.val)) EXPECT_TRUE(all.insert(i).second) << i << " in both";
  EXPECT_EQ(all.size(), 1000u);
  EXPECT_EQ(*all.begin(), 0);
  EXPECT_EQ(*all.rbegin(), 999);
  EXPECT_TRUE(torch::equal(a.val, std::get<0>(a.val.sort())));
  // A different seed holds out different images.
  EXPECT_FALSE(torch::equal(a.val, split_train_val(1000, 0.1, 0, 8).val));
}

TEST(SplitTest, LimitAppliesBeforeTheSplit) {
  TrainValSplit s = split_train_val(60000, 0.2, 50, 3);
  EXPECT_EQ(s.train.numel(), 40);
  EXPECT_EQ(s.val.numel(), 10);
  EXPECT_LT(torch::cat({s.train, s.val}).max().item<int64_t>(), 50);
  TrainValSplit all = split_train_val(30, 0.2, 100, 3);  // limit above size: everything
  EXPECT_EQ(all.train.numel() + all.val.numel(), 30);
}

TEST(SplitTest, RoundingAndEdgeCases) {
  EXPECT_EQ(split_train_val(15, 0.1, 0, 0).val.numel(), 2);  // round(1.5) = 2
  EXPECT_EQ(split_train_val(10, 0.0, 0, 0).val.numel(), 0);
  EXPECT_THROW(split_train_val(10, 1.0, 0, 0), UsageError);
  EXPECT_THROW(split_train_val(10, -0.1, 0, 0), UsageError);
  EXPECT_THROW(split_train_val(10, 0.1, -1, 0), UsageError);
  EXPECT_THROW(split_train_val(1, 0.6, 0, 0), UsageError);
}

TEST(SplitTest, SeededPermutationIsFixedAcrossPlatforms) {
  // Golden values: a change here changes every run's split and order.
  torch::Tensor p = seeded_permutation(10, 42);
  EXPECT_EQ(to_vector(p), (std::vector<int64_t>{1, 7, 9, 0, 3, 8, 4, 2, 5, 6}));
  std::mt19937_64 engine(1);
  EXPECT_LT(uniform_below(engine, 3), 3u);
}

}  // namespace dataset_test
}  // namespace nosharing
