// Format detection and dispatch to the readers (idx, cifar, image_folder), and the
// train/validation split.
#include "nosharing/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include <fmt/format.h>
#include <zlib.h>

#include "nosharing/core/error.h"
#include "nosharing/core/seed.h"
#include "nosharing/data/cifar.h"
#include "nosharing/data/idx.h"
#include "nosharing/data/image_folder.h"

namespace nosharing {
namespace {

namespace fs = std::filesystem;

// Stream identifier of the train/validation split in derive_seed ("split").
constexpr uint64_t kSplitStream = 0x73706c6974ULL;

}  // namespace

const char* data_format_name(DataFormat format) {
  switch (format) {
    case DataFormat::kIdx:
      return "idx";
    case DataFormat::kCifar10:
      return "cifar10";
    case DataFormat::kCifar100:
      return "cifar100";
    case DataFormat::kImageFolder:
      return "image_folder";
    case DataFormat::kFlatImages:
      return "flat_images";
  }
  return "unknown";
}

DataFormat detect_data_format(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw_runtime("data.path {}: no such folder", path);
  if (!fs::is_directory(path, ec)) throw_runtime("data.path {}: not a folder", path);
  if (has_idx_files(path)) return DataFormat::kIdx;
  if (has_cifar10_files(path)) return DataFormat::kCifar10;
  if (has_cifar100_files(path)) return DataFormat::kCifar100;
  if (has_class_subfolders(path)) return DataFormat::kImageFolder;
  if (has_flat_images(path)) return DataFormat::kFlatImages;
  throw_runtime(
      "no images found under {} (looked for IDX train-images-idx3-ubyte[.gz], CIFAR-10 "
      "data_batch_*.bin / test_batch.bin, CIFAR-100 train.bin / test.bin, "
      "<class>/**/*.{{png,jpg,jpeg}}, *.{{png,jpg,jpeg}})",
      path);
}

Dataset load_dataset(const std::string& path, Split split, const LoadOptions& options) {
  switch (detect_data_format(path)) {
    case DataFormat::kIdx:
      return read_idx(path, split);
    case DataFormat::kCifar10:
      return read_cifar10(path, split);
    case DataFormat::kCifar100:
      return read_cifar100(path, split);
    case DataFormat::kImageFolder:
      return read_image_folder(path, split, options.image_size);
    case DataFormat::kFlatImages:
      if (split == Split::kTest) {
        throw_runtime("data.path {}: no test split (a flat folder of unlabelled images)", path);
      }
      return read_flat_images(path, options.image_size);
  }
  throw_runtime("data.path {}: unknown data format", path);
}

bool has_test_split(const std::string& path) {
  switch (detect_data_format(path)) {
    case DataFormat::kIdx:
      return find_idx_images(path, Split::kTest).has_value();
    case DataFormat::kCifar10:
      return fs::is_regular_file(fs::path(path) / "test_batch.bin");
    case DataFormat::kCifar100:
      return fs::is_regular_file(fs::path(path) / "test.bin");
    case DataFormat::kImageFolder:
      return image_folder_split_root(path, Split::kTest).has_value();
    case DataFormat::kFlatImages:
      return false;
  }
  return false;
}

torch::Tensor seeded_permutation(int64_t n, uint64_t seed) {
  torch::Tensor order = torch::arange(n, torch::kInt64);
  int64_t* p = order.data_ptr<int64_t>();
  // Fisher–Yates with std::mt19937_64 (its output is fixed by the standard) and our own
  // bounded draw: std::uniform_int_distribution differs between standard libraries.
  std::mt19937_64 engine(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(p[i], p[uniform_below(engine, static_cast<uint64_t>(i) + 1)]);
  }
  return order;
}

uint64_t uniform_below(std::mt19937_64& engine, uint64_t bound) {
  // Rejection sampling: unbiased, and identical on every platform.
  const uint64_t limit =
      std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % bound;
  uint64_t x;
  do {
    x = engine();
  } while (x >= limit);
  return x % bound;
}

TrainValSplit split_train_val(int64_t size, double val_fraction, int64_t limit, uint64_t seed) {
  if (!(val_fraction >= 0.0 && val_fraction < 1.0)) {
    throw_usage("data.val_fraction {}: expected a fraction in [0, 1)", val_fraction);
  }
  if (limit < 0) throw_usage("data.limit {}: expected 0 (all) or a positive count", limit);
  const int64_t n = limit > 0 ? std::min(limit, size) : size;
  const auto n_val = static_cast<int64_t>(std::llround(val_fraction * static_cast<double>(n)));
  if (n - n_val < 1) {
    throw_usage("data.val_fraction {} leaves no training images of {}", val_fraction, n);
  }
  torch::Tensor order = seeded_permutation(n, derive_seed(seed, kSplitStream));
  TrainValSplit split;
  // Sorted, so evaluation reads the images in storage order.
  split.train = std::get<0>(order.narrow(0, 0, n - n_val).sort());
  split.val = std::get<0>(order.narrow(0, n - n_val, n_val).sort());
  return split;
}

std::string dataset_checksum(const Dataset& data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (const torch::Tensor& part : {data.images, data.labels}) {
    if (!part.defined()) continue;
    const torch::Tensor bytes = part.contiguous();
    const auto* p = static_cast<const Bytef*>(bytes.data_ptr());
    size_t left = static_cast<size_t>(bytes.nbytes());
    while (left > 0) {  // crc32 takes at most 4 GB at a time
      const uInt chunk = static_cast<uInt>(std::min<size_t>(left, size_t{1} << 30));
      crc = crc32(crc, p, chunk);
      p += chunk;
      left -= chunk;
    }
  }
  return fmt::format("{:08x}", static_cast<uint32_t>(crc));
}

}  // namespace nosharing
