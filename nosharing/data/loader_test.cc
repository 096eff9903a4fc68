#include "nosharing/data/loader.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "nosharing/core/error.h"

namespace nosharing {
namespace loader_test {  // named, not anonymous: the tests compile in unity batches

// n images of C × 6 × 5 whose every pixel encodes its image index, labels = index mod 7.
Dataset make_data(int64_t n, int64_t channels = 3) {
  Dataset data;
  data.images = (torch::arange(n, torch::kInt64) % 256)
                    .to(torch::kUInt8)
                    .view({n, 1, 1, 1})
                    .expand({n, channels, 6, 5})
                    .contiguous();
  // Vary pixels inside an image so crops and flips show.
  data.images += torch::arange(30, torch::kUInt8).view({1, 1, 6, 5});
  data.labels = torch::arange(n, torch::kInt64) % 7;
  for (int i = 0; i < 7; ++i) data.class_names.push_back(std::to_string(i));
  data.source = "synthetic";
  return data;
}

Normalization unit_norm(int64_t channels) {
  return Normalization{std::vector<float>(static_cast<size_t>(channels), 0.0f),
                       std::vector<float>(static_cast<size_t>(channels), 1.0f)};
}

std::vector<Batch> epoch_batches(BatchLoader& loader, int64_t epoch, int64_t skip = 0) {
  loader.start_epoch(epoch, skip);
  std::vector<Batch> batches;
  while (auto batch = loader.next()) batches.push_back(std::move(*batch));
  return batches;
}

// Images served in epoch 0, without keeping the batches.
int64_t consume_epoch(BatchLoader& loader) {
  loader.start_epoch(0);
  int64_t served = 0;
  while (auto batch = loader.next()) served += batch->images.size(0);
  return served;
}

void expect_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].index, b[i].index);
    EXPECT_TRUE(torch::equal(a[i].images, b[i].images)) << "batch " << i;
    EXPECT_TRUE(torch::equal(a[i].labels, b[i].labels)) << "batch " << i;
  }
}

LoaderOptions augmenting(int threads, uint64_t seed = 5) {
  LoaderOptions options;
  options.batch_size = 8;
  options.seed = seed;
  options.threads = threads;
  options.augment.crop = true;
  options.augment.crop_padding = 2;
  options.augment.flip = true;
  return options;
}

TEST(LoaderTest, SameSeedSameBatchesWhateverTheThreadCount) {
  Dataset data = make_data(100);
  torch::Tensor indices = torch::arange(3, 97, torch::kInt64);
  BatchLoader serial(data, indices, unit_norm(3), augmenting(0));
  BatchLoader parallel(data, indices, unit_norm(3), augmenting(3));
  BatchLoader again(data, indices, unit_norm(3), augmenting(3));
  std::vector<Batch> a = epoch_batches(serial, 2);
  expect_same(a, epoch_batches(parallel, 2));
  expect_same(a, epoch_batches(again, 2));
  EXPECT_EQ(a.size(), 11u);  // 94 / 8, last incomplete batch dropped
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].index, static_cast<int64_t>(i));
}

TEST(LoaderTest, EpochsAndSeedsChangeTheOrder) {
  Dataset data = make_data(64);
  torch::Tensor indices = torch::arange(64, torch::kInt64);
  BatchLoader loader(data, indices, unit_norm(3), augmenting(2));
  std::vector<Batch> e0 = epoch_batches(loader, 0);
  std::vector<Batch> e1 = epoch_batches(loader, 1);
  EXPECT_FALSE(torch::equal(e0[0].labels, e1[0].labels) &&
               torch::equal(e0[1].labels, e1[1].labels));
  BatchLoader other(data, indices, unit_norm(3), augmenting(2, 6));
  EXPECT_FALSE(torch::equal(e0[0].images, epoch_batches(other, 0)[0].images));
  // Each epoch serves every selected image exactly once (labels carry the index mod 7).
  torch::Tensor labels = torch::cat({e1[0].labels, e1[1].labels, e1[2].labels, e1[3].labels,
                                     e1[4].labels, e1[5].labels, e1[6].labels, e1[7].labels});
  EXPECT_TRUE(torch::equal(torch::bincount(labels), torch::bincount(data.labels)));
}

TEST(LoaderTest, NoShuffleNoAugmentServesIndicesInOrder) {
  Dataset data = make_data(20, 1);
  LoaderOptions options;
  options.batch_size = 6;
  options.shuffle = false;
  options.drop_last = false;
  options.threads = 1;
  torch::Tensor indices = torch::tensor({9, 3, 4, 15, 0, 1, 2, 11}, torch::kInt64);
  BatchLoader loader(data, indices, Normalization{{0.1f}, {0.5f}}, options);
  EXPECT_EQ(loader.size(), 8);
  EXPECT_EQ(loader.batches_per_epoch(), 2);
  std::vector<Batch> batches = epoch_batches(loader, 0);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1].images.size(0), 2);  // the incomplete last batch is kept
  torch::Tensor expected =
      (data.images.index_select(0, indices.narrow(0, 0, 6)).to(torch::kFloat32) / 255 - 0.1f) /
      0.5f;
  EXPECT_TRUE(torch::allclose(batches[0].images, expected, 1e-5, 1e-5));
  EXPECT_TRUE(torch::equal(batches[1].labels, torch::tensor({2 % 7, 11 % 7}, torch::kInt64)));
}

TEST(LoaderTest, DropLast) {
  Dataset data = make_data(30);
  LoaderOptions options = augmenting(1);
  options.batch_size = 7;
  BatchLoader dropping(data, torch::arange(30, torch::kInt64), unit_norm(3), options);
  EXPECT_EQ(dropping.batches_per_epoch(), 4);
  std::vector<Batch> batches = epoch_batches(dropping, 0);
  ASSERT_EQ(batches.size(), 4u);
  for (const Batch& b : batches) EXPECT_EQ(b.images.size(0), 7);
  options.drop_last = false;
  BatchLoader keeping(data, torch::arange(30, torch::kInt64), unit_norm(3), options);
  batches = epoch_batches(keeping, 0);
  ASSERT_EQ(batches.size(), 5u);
  EXPECT_EQ(batches[4].images.size(0), 2);
}

TEST(LoaderTest, SkipBatchesForResumeEqualsTheTailOfTheEpoch) {
  Dataset data = make_data(90);
  torch::Tensor indices = torch::arange(90, torch::kInt64);
  BatchLoader full(data, indices, unit_norm(3), augmenting(2));
  std::vector<Batch> all = epoch_batches(full, 3);
  BatchLoader resumed(data, indices, unit_norm(3), augmenting(0));
  std::vector<Batch> tail = epoch_batches(resumed, 3, 4);
  expect_same(std::vector<Batch>(all.begin() + 4, all.end()), tail);
  EXPECT_TRUE(epoch_batches(resumed, 3, resumed.batches_per_epoch()).empty());
  EXPECT_THROW(resumed.start_epoch(3, resumed.batches_per_epoch() + 1), RuntimeError);
}

TEST(LoaderTest, StopsCleanlyMidEpochAndRestarts) {
  Dataset data = make_data(200);
  LoaderOptions options = augmenting(3);
  options.batch_size = 4;
  {
    BatchLoader loader(data, torch::arange(200, torch::kInt64), unit_norm(3), options);
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next().has_value());
    loader.start_epoch(1);  // abandons epoch 0 with workers mid-flight
    ASSERT_TRUE(loader.next().has_value());
  }  // destructor joins workers blocked on a full queue
  BatchLoader fresh(data, torch::arange(200, torch::kInt64), unit_norm(3), options);
  EXPECT_THROW(fresh.next(), RuntimeError);  // before start_epoch
}

TEST(LoaderTest, BadOptionsAreUsageErrors) {
  Dataset data = make_data(10);
  LoaderOptions options;
  options.batch_size = 0;
  EXPECT_THROW(BatchLoader(data, torch::arange(10), unit_norm(3), options), UsageError);
  options.batch_size = 2;
  EXPECT_THROW(BatchLoader(data, torch::tensor({0, 10}), unit_norm(3), options), RuntimeError);
  EXPECT_THROW(BatchLoader(data, torch::arange(10), unit_norm(1), options), RuntimeError);
}

TEST(LoaderTest, ShiftRepetitionsMultiplyTheBatchAndRepeatLabels) {
  Dataset data = make_data(40);
  LoaderOptions options;
  options.batch_size = 5;
  options.threads = 0;
  options.augment.max_shift = 0.4;  // round(0.4 · 6) = 2 rows, round(0.4 · 5) = 2 columns
  options.augment.repetitions = 4;
  BatchLoader loader(data, torch::arange(40, torch::kInt64), unit_norm(3), options);
  EXPECT_EQ(loader.batches_per_epoch(), 8);  // counted in source images
  std::vector<Batch> batches = epoch_batches(loader, 0);
  ASSERT_EQ(batches.size(), 8u);
  int64_t differing_copies = 0;
  for (const Batch& batch : batches) {
    ASSERT_EQ(batch.images.size(0), 20);
    ASSERT_EQ(batch.labels.size(0), 20);
    for (int64_t i = 0; i < 5; ++i) {
      for (int64_t r = 1; r < 4; ++r) {
        EXPECT_EQ(batch.labels[i * 4 + r].item<int64_t>(), batch.labels[i * 4].item<int64_t>());
        if (!torch::equal(batch.images[i * 4 + r], batch.images[i * 4])) ++differing_copies;
      }
    }
  }
  // 25 shifts per axis pair: copies of one image are almost never shifted alike.
  EXPECT_GT(differing_copies, 8 * 5 * 3 * 3 / 4);
  // Same seed, same shifted batches, whatever the thread count.
  options.threads = 2;
  BatchLoader parallel(data, torch::arange(40, torch::kInt64), unit_norm(3), options);
  expect_same(batches, epoch_batches(parallel, 0));
}

TEST(LoaderTest, ShiftsStayWithinMaxShift) {
  // A single lit pixel in the middle of a 1 × 9 × 9 image: it lands at most
  // round(0.25 · 9) = 2 pixels away in each axis, so it never falls off.
  Dataset data;
  data.images = torch::zeros({1, 1, 9, 9}, torch::kUInt8);
  data.images[0][0][4][4] = 255;
  data.labels = torch::zeros({1}, torch::kInt64);
  data.class_names = {"0"};
  data.source = "synthetic";
  LoaderOptions options;
  options.batch_size = 1;
  options.threads = 0;
  options.augment.max_shift = 0.25;
  options.augment.repetitions = 200;
  BatchLoader loader(data, torch::zeros({1}, torch::kInt64), unit_norm(1), options);
  std::vector<Batch> batches = epoch_batches(loader, 0);
  ASSERT_EQ(batches.size(), 1u);
  std::set<std::pair<int64_t, int64_t>> seen;
  for (int64_t i = 0; i < 200; ++i) {
    torch::Tensor image = batches[0].images[i][0];
    ASSERT_NEAR(image.sum().item<float>(), 1.0f, 1e-5);  // one pixel of 255 / 255
    const int64_t flat = image.argmax().item<int64_t>();
    const int64_t y = flat / 9 - 4, x = flat % 9 - 4;
    EXPECT_LE(std::abs(y), 2);
    EXPECT_LE(std::abs(x), 2);
    seen.insert({y, x});
  }
  EXPECT_EQ(seen.size(), 25u);  // every shift in [−2, 2]² is drawn
}

TEST(LoaderTest, BadShiftOptionsAreUsageErrors) {
  Dataset data = make_data(10);
  LoaderOptions options;
  options.batch_size = 2;
  options.augment.max_shift = -0.1;
  EXPECT_THROW(BatchLoader(data, torch::arange(10), unit_norm(3), options), UsageError);
  options.augment.max_shift = 1.0;
  EXPECT_THROW(BatchLoader(data, torch::arange(10), unit_norm(3), options), UsageError);
  options.augment.max_shift = 0.2;
  options.augment.repetitions = 0;
  EXPECT_THROW(BatchLoader(data, torch::arange(10), unit_norm(3), options), UsageError);
}

TEST(LoaderTest, ComputeNormalizationOverSelectedImages) {
  Dataset data;
  // Image 0: channel 0 all 0, channel 1 all 255; image 1: channel 0 all 255, channel 1 all 51.
  data.images = torch::tensor({0, 255, 255, 51}, torch::kUInt8)
                    .view({2, 2, 1, 1})
                    .expand({2, 2, 4, 4})
                    .contiguous();
  data.labels = torch::zeros({2}, torch::kInt64);
  Normalization both = compute_normalization(data, torch::tensor({0, 1}, torch::kInt64));
  EXPECT_NEAR(both.mean[0], 0.5, 1e-6);
  EXPECT_NEAR(both.std[0], 0.5, 1e-6);
  EXPECT_NEAR(both.mean[1], 0.6, 1e-6);
  EXPECT_NEAR(both.std[1], 0.4, 1e-6);
  Normalization one = compute_normalization(data, torch::tensor({1}, torch::kInt64));
  EXPECT_NEAR(one.mean[0], 1.0, 1e-6);
  EXPECT_NEAR(one.std[0], 1.0, 1e-6);  // constant channel: left unscaled
  EXPECT_THROW(compute_normalization(data, torch::empty({0}, torch::kInt64)), RuntimeError);
}

TEST(LoaderTest, FastEnoughForFashionMnistAndCifarSizedEpochs) {
  // Fashion-MNIST-sized epoch without augmentation, CIFAR-sized with crop and flip, served on
  // the calling thread so the time is the CPU cost.
  Dataset mnist;
  mnist.images = torch::randint(0, 256, {54000, 1, 28, 28}, torch::kUInt8);
  mnist.labels = torch::zeros({54000}, torch::kInt64);
  LoaderOptions options;
  options.threads = 0;
  auto start = std::chrono::steady_clock::now();
  BatchLoader plain(mnist, torch::arange(54000), compute_normalization(mnist, torch::arange(54000)),
                    options);
  int64_t served = consume_epoch(plain);
  double mnist_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(served, 53888);

  Dataset cifar;
  cifar.images = torch::randint(0, 256, {45000, 3, 32, 32}, torch::kUInt8);
  cifar.labels = torch::zeros({45000}, torch::kInt64);
  options.augment.crop = options.augment.flip = true;
  start = std::chrono::steady_clock::now();
  BatchLoader augmented(cifar, torch::arange(45000),
                        compute_normalization(cifar, torch::arange(45000)), options);
  EXPECT_EQ(consume_epoch(augmented), 44928);
  double cifar_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "fashion-mnist epoch " << mnist_seconds << " s, cifar epoch with crop+flip "
            << cifar_seconds << " s\n";
  EXPECT_LT(mnist_seconds, 1.0);
  EXPECT_LT(cifar_seconds, 4.0);
}

TEST(LoaderTest, FloatSamplesAreServedAsTheyAreInSeededOrder) {
  // Prepared float samples (whitened patches for wlsc): no normalisation, no augmentation.
  Dataset data;
  data.images = torch::randn({10, 1, 3, 3});
  data.labels = torch::full({10}, -1, torch::kInt64);
  data.source = "patches";
  LoaderOptions options;
  options.batch_size = 4;
  options.seed = 3;
  options.threads = 1;
  BatchLoader loader(data, torch::arange(10, torch::kInt64), Normalization{{5.0f}, {2.0f}},
                     options);
  const std::vector<Batch> batches = epoch_batches(loader, 0);
  ASSERT_EQ(batches.size(), 2u);
  std::set<int64_t> seen;
  for (const Batch& batch : batches) {
    for (int64_t i = 0; i < batch.images.size(0); ++i) {
      int64_t found = -1;
      for (int64_t j = 0; j < 10; ++j) {
        if (batch.images[i].equal(data.images[j])) found = j;
      }
      ASSERT_GE(found, 0) << "every sample is one of the dataset's, unchanged";
      seen.insert(found);
    }
  }
  EXPECT_EQ(seen.size(), 8u);
  options.augment.flip = true;
  EXPECT_THROW(BatchLoader(data, torch::arange(10, torch::kInt64), unit_norm(1), options),
               UsageError);
}

// Data parallelism: the shards of every batch, concatenated in rank order, are the batch one
// process gets — the same images, labels and augmentation draws (crop, flip, shifts,
// repetitions) — also when the shards are uneven (the first ones take one more source).
TEST(LoaderTest, ShardsOfABatchConcatenateToTheOneProcessBatch) {
  Dataset data = make_data(100);
  torch::Tensor indices = torch::arange(3, 97, torch::kInt64);
  for (const int shards : {2, 3}) {
    LoaderOptions options = augmenting(2);
    options.augment.max_shift = 0.3;
    options.augment.repetitions = 2;
    options.batch_size = shards == 2 ? 8 : 7;  // 7: shards of 3, 2 and 2 source images
    BatchLoader whole(data, indices, unit_norm(3), options);
    const std::vector<Batch> expected = epoch_batches(whole, 1);
    std::vector<std::vector<Batch>> parts;
    for (int r = 0; r < shards; ++r) {
      LoaderOptions shard = options;
      shard.shard_index = r;
      shard.shard_count = shards;
      BatchLoader loader(data, indices, unit_norm(3), shard);
      EXPECT_EQ(loader.batches_per_epoch(), whole.batches_per_epoch());
      parts.push_back(epoch_batches(loader, 1));
    }
    ASSERT_EQ(parts[0].size(), expected.size());
    for (size_t b = 0; b < expected.size(); ++b) {
      std::vector<torch::Tensor> images, labels;
      for (int r = 0; r < shards; ++r) {
        images.push_back(parts[r][b].images);
        labels.push_back(parts[r][b].labels);
        EXPECT_EQ(parts[r][b].index, expected[b].index);
      }
      if (shards == 3) EXPECT_EQ(parts[0][b].images.size(0), 3 * 2);  // 3 sources × 2 copies
      EXPECT_TRUE(torch::equal(torch::cat(images), expected[b].images)) << shards << " " << b;
      EXPECT_TRUE(torch::equal(torch::cat(labels), expected[b].labels)) << shards << " " << b;
    }
  }
  LoaderOptions bad = augmenting(0);
  bad.shard_index = 2;
  bad.shard_count = 2;
  EXPECT_THROW(BatchLoader(data, indices, unit_norm(3), bad), UsageError);
}

}  // namespace loader_test
}  // namespace nosharing
