// An image classification dataset held in memory, and the readers that fill it.
// The format is detected from the files under a folder (DESIGN §6):
//   IDX        *-images-idx3-ubyte[.gz] + *-labels-idx1-ubyte[.gz] (train-*, t10k-*)
//   CIFAR-10   data_batch_{1..5}.bin (+ test_batch.bin)
//   CIFAR-100  train.bin (+ test.bin)
//   folders    root/<class>/**/*.{png,jpg,jpeg,JPEG} (labelled; TinyImageNet's train/ too)
//   flat       root/*.{png,jpg,jpeg} (unlabelled, e.g. natural photographs)
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace nosharing {

enum class DataFormat { kIdx, kCifar10, kCifar100, kImageFolder, kFlatImages };
enum class Split { kTrain, kTest };

const char* data_format_name(DataFormat format);

struct Dataset {
  // uint8 [N, C, H, W] pixels, or float32 [N, C, H, W] samples already prepared (whitened
  // patches, DESIGN §2 wlsc), which loaders serve without normalisation or augmentation.
  torch::Tensor images;
  torch::Tensor labels;  // int64 [N]; -1 for every image of an unlabelled set
  std::vector<std::string> class_names;  // [num_classes]; empty when unlabelled
  DataFormat format = DataFormat::kIdx;
  std::string source;  // the folder it was read from

  int64_t size() const { return images.size(0); }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  int64_t channels() const { return images.size(1); }
  int64_t height() const { return images.size(2); }
  int64_t width() const { return images.size(3); }
};

struct LoadOptions {
  int64_t image_size = 32;  // folder images are resized to image_size × image_size
};

// Detects the format of `path`. RuntimeError naming the folder and what was looked for
// when nothing is recognised or the folder does not exist.
DataFormat detect_data_format(const std::string& path);

// Reads the train or test split of the data under `path`. Missing, truncated or corrupt
// files, wrong magic numbers, labels out of range, mismatched counts and empty folders
// are RuntimeErrors naming the file, the value and what was expected. The test split of
// CIFAR without test_batch.bin / test.bin is a RuntimeError saying so.
Dataset load_dataset(const std::string& path, Split split, const LoadOptions& options = {});

// CRC-32 (zlib) of a dataset's decoded contents — the pixels (or samples), then the labels —
// as 8 hex digits: what provenance.json records, so that a resumed run can tell whether its
// data changed underneath it, whatever the file format.
std::string dataset_checksum(const Dataset& data);

// True if `path` holds a test split (e.g. CIFAR's test_batch.bin).
bool has_test_split(const std::string& path);

// Deterministic train/validation split: the first `limit` images (0: all) are shuffled with
// `seed` and the last round(val_fraction · n) of that order become validation.
// Returns int64 index tensors into the dataset, each sorted ascending. UsageError for a
// val_fraction outside [0, 1), a negative limit, or a split that leaves no training image.
struct TrainValSplit {
  torch::Tensor train;  // int64 [N_train]
  torch::Tensor val;    // int64 [N_val]
};
TrainValSplit split_train_val(int64_t size, double val_fraction, int64_t limit, uint64_t seed);

// A permutation of 0 … n-1 (int64 [n]) that depends only on `seed`: the same on every
// machine, standard library and thread count.
torch::Tensor seeded_permutation(int64_t n, uint64_t seed);

// A uniform integer in [0, bound) from `engine`, identical on every platform (unlike
// std::uniform_int_distribution). bound > 0.
uint64_t uniform_below(std::mt19937_64& engine, uint64_t bound);

}  // namespace nosharing
