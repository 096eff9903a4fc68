#include "nosharing/train/run_data.h"

#include "nosharing/core/error.h"
#include "nosharing/data/patches.h"

namespace nosharing {
namespace {

// Unlabelled models that train on whitened patches (wlsc): the training and validation
// patches (from disjoint images) are stacked into one float dataset, the validation ones
// last, so that the rest of the run (loaders, checkpoints, resumption) is unchanged.
RunData load_patch_run_data(const Config& config, double val_fraction) {
  ImagePatchOptions o;
  o.size = config.get_int("patches.size");
  o.downsample = config.get_int("patches.downsample");
  o.whitening = config.get_string("patches.whitening");
  o.f0 = config.get_double("patches.f0");
  o.zca_epsilon = config.get_double("patches.zca_epsilon");
  o.window_sigma = config.get_double("patches.window_sigma");
  o.contrast = config.get_string("patches.contrast");
  o.train_patches = config.get_int("patches.train");
  o.val_patches = config.get_int("patches.val");
  o.val_fraction = val_fraction;
  o.seed = static_cast<uint64_t>(config.get_int("train.seed"));
  const std::string& path = config.get_string("data.path");
  ImagePatchSet patches = make_image_patches(path, o);
  RunData data;
  const int64_t n_train = patches.train.size(0), n_val = patches.val.size(0);
  data.train_set.images = torch::cat({patches.train, patches.val}, 0);
  data.train_set.labels = torch::full({n_train + n_val}, -1, torch::kInt64);
  data.train_set.format = DataFormat::kFlatImages;
  data.train_set.source = path;
  data.split.train = torch::arange(n_train, torch::kInt64);
  data.split.val = torch::arange(n_train, n_train + n_val, torch::kInt64);
  data.normalization.mean = {0.0f};  // whitened and contrast-normalised already
  data.normalization.std = {1.0f};
  data.input_shape = {1, o.size, o.size};
  data.num_classes = 0;
  return data;
}

}  // namespace

RunData load_run_data(const Config& config) {
  const double val_fraction = config.get_double("data.val_fraction");
  if (!(val_fraction >= 0 && val_fraction < 1)) {
    throw_usage("data.val_fraction = {}: expected a number in [0, 1)", val_fraction);
  }
  if (config.get_string("model.type") == "wlsc") return load_patch_run_data(config, val_fraction);
  const int64_t limit = config.get_int("data.limit");
  if (limit < 0) throw_usage("data.limit = {}: expected ≥ 0 (0: all images)", limit);
  const int64_t image_size = config.get_int("data.image_size");
  if (image_size < 1) throw_usage("data.image_size = {}: expected ≥ 1", image_size);

  RunData data;
  LoadOptions load_options;
  load_options.image_size = image_size;
  data.train_set = load_dataset(config.get_string("data.path"), Split::kTrain, load_options);
  if (data.train_set.num_classes() == 0) {
    throw_runtime("data.path {}: the images are unlabelled ({}); a classifier needs labelled "
                  "data",
                  data.train_set.source, data_format_name(data.train_set.format));
  }
  data.split = split_train_val(data.train_set.size(), val_fraction, limit,
                               static_cast<uint64_t>(config.get_int("train.seed")));
  if (data.split.train.numel() == 0) {
    throw_usage("data.limit = {} with data.val_fraction = {} leaves no training images", limit,
                val_fraction);
  }
  data.normalization = compute_normalization(data.train_set, data.split.train);
  data.input_shape = {data.train_set.channels(), data.train_set.height(), data.train_set.width()};
  data.num_classes = data.train_set.num_classes();
  return data;
}

std::unique_ptr<BatchLoader> make_train_loader(const Config& config, const RunData& data,
                                               int rank, int world_size) {
  const int64_t batch_size = config.get_int("train.batch_size");
  if (batch_size < 1) throw_usage("train.batch_size = {}: expected ≥ 1", batch_size);
  if (batch_size % world_size != 0) {
    throw_usage("train.batch_size = {} is not divisible by WORLD_SIZE = {}: the global batch is "
                "split evenly across the ranks (try {})",
                batch_size, world_size, (batch_size / world_size + 1) * world_size);
  }
  const int64_t threads = config.get_int("data.threads");
  if (threads < 0) throw_usage("data.threads = {}: expected ≥ 0", threads);
  const int64_t padding = config.get_int("augment.crop_padding");
  if (padding < 0) throw_usage("augment.crop_padding = {}: expected ≥ 0", padding);
  if (batch_size > data.split.train.numel()) {
    throw_usage("train.batch_size = {}: larger than the {} training images", batch_size,
                data.split.train.numel());
  }
  // Crop and flip are the standard recipe for colour photographs (CIFAR), not for
  // centred greyscale items such as Fashion-MNIST.
  const bool colour = data.input_shape.channels == 3;
  LoaderOptions options;
  options.batch_size = batch_size;
  options.shuffle = true;
  options.drop_last = true;
  options.augment.crop = config.get_auto_bool("augment.crop", colour);
  options.augment.crop_padding = padding;
  options.augment.flip = config.get_auto_bool("augment.flip", colour);
  options.augment.max_shift = config.get_double("augment.max_shift");
  options.augment.repetitions = config.get_int("augment.repetitions");
  options.seed = static_cast<uint64_t>(config.get_int("train.seed"));
  options.threads = static_cast<int>(threads);
  options.shard_index = rank;
  options.shard_count = world_size;
  return std::make_unique<BatchLoader>(data.train_set, data.split.train, data.normalization,
                                       options);
}

std::unique_ptr<BatchLoader> make_eval_loader(const Config& config, const Dataset& dataset,
                                              torch::Tensor indices,
                                              const Normalization& normalization) {
  const int64_t batch_size = config.get_int("train.eval_batch_size");
  if (batch_size < 1) throw_usage("train.eval_batch_size = {}: expected ≥ 1", batch_size);
  LoaderOptions options;
  options.batch_size = batch_size;
  options.shuffle = false;
  options.drop_last = false;
  options.threads = static_cast<int>(std::max<int64_t>(0, config.get_int("data.threads")));
  return std::make_unique<BatchLoader>(dataset, std::move(indices), normalization, options);
}

}  // namespace nosharing
