// The data side of a run, prepared the same way by train, eval and info: the dataset at
// data.path, the seeded train/validation split, the normalisation measured on the training
// split and the loaders.
#pragma once

#include <memory>
#include <string>

#include "nosharing/core/config.h"
#include "nosharing/data/dataset.h"
#include "nosharing/data/loader.h"
#include "nosharing/models/model.h"

namespace nosharing {

struct RunData {
  Dataset train_set;           // the training file(s) of data.path
  TrainValSplit split;         // indices into train_set
  Normalization normalization; // measured on split.train
  InputShape input_shape;
  int64_t num_classes = 0;
};

// Loads data.path and splits it (data.limit, data.val_fraction, train.seed). For
// model.type = "wlsc" the data are whitened patches (patches.*, nosharing/data/patches.h):
// float32 [N, 1, p, p] samples, labels −1, num_classes 0, validation patches from held-out
// images.
RunData load_run_data(const Config& config);

// The training loader: shuffled, drop_last, with the configured augmentation. In a
// data-parallel run of `world_size` ranks, rank `rank` gets its share of every global batch
// of train.batch_size source images, which must divide evenly (a UsageError otherwise).
std::unique_ptr<BatchLoader> make_train_loader(const Config& config, const RunData& data,
                                               int rank = 0, int world_size = 1);
// An evaluation loader over `indices` of `dataset`: in order, no augmentation.
std::unique_ptr<BatchLoader> make_eval_loader(const Config& config, const Dataset& dataset,
                                              torch::Tensor indices,
                                              const Normalization& normalization);

}  // namespace nosharing
