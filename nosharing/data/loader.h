// Batches for training and evaluation, prepared on background threads.
// Everything random (epoch order, crops, flips) is seeded from (seed, epoch, batch index),
// never from thread scheduling, so a run is reproducible and resumable mid-epoch.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "nosharing/data/dataset.h"

namespace nosharing {

struct AugmentOptions {
  bool crop = false;          // random crop after zero padding of crop_padding pixels
  int64_t crop_padding = 4;
  bool flip = false;          // random horizontal flip with probability ½
  // Translation augmentation (DESIGN §3, Ott et al. 2020; Pogodin et al. 2021): integer
  // shifts drawn uniformly in [−s, s] per axis, s = round(max_shift · side), zero fill.
  double max_shift = 0.0;
  // Each source image appears this many times in a batch, every copy augmented
  // independently (consecutive copies; labels repeat): a batch holds batch_size ×
  // repetitions images.
  int64_t repetitions = 1;
};

// Per-channel mean and standard deviation, in units of the uint8 pixel / 255.
struct Normalization {
  std::vector<float> mean;  // [C]
  std::vector<float> std;   // [C]
};
// Computed over the images selected by `indices` (int64 [n]).
Normalization compute_normalization(const Dataset& data, const torch::Tensor& indices);

struct Batch {
  // B = source images × augment.repetitions.
  torch::Tensor images;  // float32 [B, C, H, W], normalised
  torch::Tensor labels;  // int64 [B]
  int64_t index = 0;     // batch index within the epoch
};

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true;     // a new seeded order every epoch
  bool drop_last = true;   // training drops the incomplete last batch
  AugmentOptions augment;
  uint64_t seed = 0;
  int threads = 2;         // background threads (0: prepare on the calling thread)
  // Data parallelism (nosharing/train/communicator.h): serve only shard `shard_index` of
  // `shard_count` of every batch — a contiguous, equal share of its source images (the
  // first ones take one more if batch_size does not divide) with the augmentation the whole
  // batch gets, so the shards of all ranks, concatenated, are the one-process batch.
  int shard_index = 0;
  int shard_count = 1;
};

class BatchLoader {
 public:
  // `data` must outlive the loader; `indices` (int64 [n]) select the images it serves.
  BatchLoader(const Dataset& data, torch::Tensor indices, Normalization normalization,
              LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts serving `epoch`, skipping its first `skip_batches` batches (for resuming).
  void start_epoch(int64_t epoch, int64_t skip_batches = 0);
  // The next batch of the current epoch, or nullopt at its end.
  std::optional<Batch> next();
  int64_t batches_per_epoch() const;
  int64_t size() const;  // images served per epoch before drop_last

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace nosharing
