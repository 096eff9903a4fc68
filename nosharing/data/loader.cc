#include "nosharing/data/loader.h"

#include <array>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "nosharing/core/error.h"
#include "nosharing/core/seed.h"
#include "nosharing/data/transforms.h"

namespace nosharing {
namespace {

// Stream identifiers in derive_seed: "order", "augment".
constexpr uint64_t kOrderStream = 0x6f72646572ULL;
constexpr uint64_t kAugmentStream = 0x6175676d656e74ULL;

}  // namespace

Normalization compute_normalization(const Dataset& data, const torch::Tensor& indices) {
  torch::Tensor images = data.images.contiguous();
  torch::Tensor index = indices.to(torch::kInt64).contiguous();
  const int64_t n = images.size(0), channels = images.size(1);
  const int64_t plane = images.size(2) * images.size(3);
  const int64_t count = index.numel();
  if (count == 0) throw_runtime("data {}: cannot compute normalisation over 0 images", data.source);
  // Histograms make the sums exact and the loop a single increment per pixel.
  std::vector<std::array<uint64_t, 256>> histogram(static_cast<size_t>(channels));
  for (auto& h : histogram) h.fill(0);
  const uint8_t* src = images.data_ptr<uint8_t>();
  const int64_t* idx = index.data_ptr<int64_t>();
  for (int64_t i = 0; i < count; ++i) {
    if (idx[i] < 0 || idx[i] >= n) {
      throw_runtime("data {}: image index {} out of range [0, {})", data.source, idx[i], n);
    }
    for (int64_t c = 0; c < channels; ++c) {
      const uint8_t* p = src + (idx[i] * channels + c) * plane;
      uint64_t* h = histogram[static_cast<size_t>(c)].data();
      for (int64_t k = 0; k < plane; ++k) ++h[p[k]];
    }
  }
  Normalization norm;
  const double total = static_cast<double>(count * plane);
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0, sum_sq = 0;
    for (int v = 0; v < 256; ++v) {
      const double x = v / 255.0;
      const double k = static_cast<double>(histogram[static_cast<size_t>(c)][v]);
      sum += k * x;
      sum_sq += k * x * x;
    }
    const double mean = sum / total;
    const double var = std::max(0.0, sum_sq / total - mean * mean);
    // A constant channel would divide by zero; leave it centred but unscaled.
    const double std = std::sqrt(var) < 1e-6 ? 1.0 : std::sqrt(var);
    norm.mean.push_back(static_cast<float>(mean));
    norm.std.push_back(static_cast<float>(std));
  }
  return norm;
}

struct BatchLoader::State {
  State(const Dataset& d, torch::Tensor i, Normalization nm, LoaderOptions o)
      : data(d), indices(std::move(i)), norm(std::move(nm)), options(o) {}

  const Dataset& data;
  torch::Tensor images;   // uint8 [N, C, H, W], contiguous
  torch::Tensor labels;   // int64 [N], contiguous
  torch::Tensor indices;  // int64 [n], contiguous
  Normalization norm;
  LoaderOptions options;
  int64_t capacity = 2;  // batches prepared ahead of the consumer

  // The current epoch. Written only while no worker runs.
  bool started = false;
  int64_t epoch = 0;
  int64_t num_batches = 0;
  std::vector<int64_t> order;  // dataset indices in this epoch's order

  // Shared with the workers, under `mutex`.
  std::mutex mutex;
  std::condition_variable work_cv;   // a worker may claim a batch, or must stop
  std::condition_variable ready_cv;  // a batch was finished
  bool stop = false;
  int64_t next_claim = 0;    // next batch index a worker will prepare
  int64_t next_deliver = 0;  // next batch index next() returns
  std::map<int64_t, std::pair<Batch, std::exception_ptr>> ready;
  std::vector<std::thread> workers;

  // [first, last) of a batch's `sources` source images that this shard serves.
  std::pair<int64_t, int64_t> shard_sources(int64_t sources) const {
    const int64_t n = options.shard_count, r = options.shard_index;
    const int64_t base = sources / n, extra = sources % n;
    const int64_t first = r * base + std::min(r, extra);
    return {first, first + base + (r < extra ? 1 : 0)};
  }

  Batch make_batch(int64_t b) const {
    const int64_t begin = b * options.batch_size;
    const int64_t sources =
        std::min<int64_t>(options.batch_size, static_cast<int64_t>(order.size()) - begin);
    const AugmentOptions& aug = options.augment;
    // Each source image repeated `repetitions` times in a row.
    const int64_t repetitions = aug.repetitions;
    // This loader's shard of the batch: source images [first, last), images
    // [first·R, last·R) of the whole batch.
    const auto [first, last] = shard_sources(sources);
    const int64_t count = (last - first) * repetitions;
    const int64_t skip = first * repetitions;  // images of the batch before the shard
    std::vector<int64_t> idx(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i)
      idx[static_cast<size_t>(i)] = order[static_cast<size_t>(begin + first + i / repetitions)];
    const int64_t shift_y = max_shift_pixels(aug.max_shift, images.size(2));
    const int64_t shift_x = max_shift_pixels(aug.max_shift, images.size(3));
    const bool shift = shift_y > 0 || shift_x > 0;
    std::vector<ImageAugment> augments;
    int64_t padding = 0;
    if (aug.crop || aug.flip || shift) {
      // Seeded by (seed, epoch, batch): identical whichever thread prepares the batch. The
      // draws per image are crop, flip, then shift, so runs without shifts draw as before.
      std::mt19937_64 engine(derive_seed(options.seed, kAugmentStream, static_cast<uint64_t>(epoch),
                                         static_cast<uint64_t>(b)));
      padding = aug.crop ? aug.crop_padding : 0;
      // Draws for the whole batch, in its order, so a shard gets what its images would get
      // in one process; the other shards' draws are discarded.
      augments.resize(static_cast<size_t>(sources * repetitions));
      for (ImageAugment& a : augments) {
        if (aug.crop) {
          a.crop_y = static_cast<int64_t>(uniform_below(engine, 2 * padding + 1));
          a.crop_x = static_cast<int64_t>(uniform_below(engine, 2 * padding + 1));
        } else {
          a.crop_y = a.crop_x = padding;
        }
        if (aug.flip) a.flip = (engine() >> 63) != 0;
        if (shift) {
          a.shift_y = static_cast<int64_t>(uniform_below(engine, 2 * shift_y + 1)) - shift_y;
          a.shift_x = static_cast<int64_t>(uniform_below(engine, 2 * shift_x + 1)) - shift_x;
        }
      }
      augments.erase(augments.begin() + skip + count, augments.end());
      augments.erase(augments.begin(), augments.begin() + skip);
    }
    Batch batch;
    batch.index = b;
    if (images.scalar_type() == torch::kFloat32) {
      // Prepared samples (whitened patches): served as they are.
      batch.images = images.index_select(
          0, torch::from_blob(idx.data(), {count}, torch::kInt64).clone());
    } else {
      batch.images =
          prepare_images(images, idx.data(), count, norm.mean, norm.std, padding, augments);
    }
    batch.labels = torch::empty({count}, torch::kInt64);
    int64_t* out = batch.labels.data_ptr<int64_t>();
    const int64_t* all = labels.data_ptr<int64_t>();
    for (int64_t i = 0; i < count; ++i) out[i] = all[idx[static_cast<size_t>(i)]];
    return batch;
  }

  void worker() {
    for (;;) {
      int64_t b;
      {
        std::unique_lock<std::mutex> lock(mutex);
        work_cv.wait(lock, [&] {
          return stop || next_claim >= num_batches || next_claim < next_deliver + capacity;
        });
        if (stop || next_claim >= num_batches) return;
        b = next_claim++;
      }
      Batch batch;
      std::exception_ptr error;
      try {
        batch = make_batch(b);
      } catch (...) {
        error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        ready.emplace(b, std::make_pair(std::move(batch), error));
      }
      ready_cv.notify_all();
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    work_cv.notify_all();
    for (std::thread& t : workers) t.join();
    workers.clear();
    ready.clear();
    stop = false;
  }
};

BatchLoader::BatchLoader(const Dataset& data, torch::Tensor indices, Normalization normalization,
                         LoaderOptions options)
    : state_(std::make_unique<State>(data, indices.to(torch::kInt64).contiguous(),
                                     std::move(normalization), options)) {
  State& s = *state_;
  if (options.batch_size < 1)
    throw_usage("train.batch_size {}: expected at least 1", options.batch_size);
  if (options.threads < 0) throw_usage("data.threads {}: expected 0 or more", options.threads);
  if (options.shard_count < 1 || options.shard_index < 0 ||
      options.shard_index >= options.shard_count) {
    throw_usage("loader shard {} of {}: expected 0 ≤ shard < count", options.shard_index,
                options.shard_count);
  }
  if (options.augment.crop && options.augment.crop_padding < 0) {
    throw_usage("augment.crop_padding {}: expected 0 or more", options.augment.crop_padding);
  }
  if (!(options.augment.max_shift >= 0 && options.augment.max_shift < 1)) {
    throw_usage("augment.max_shift {}: expected a fraction of the image side in [0, 1)",
                options.augment.max_shift);
  }
  if (options.augment.repetitions < 1) {
    throw_usage("augment.repetitions {}: expected 1 or more", options.augment.repetitions);
  }
  if (!data.images.defined() || data.images.dim() != 4 ||
      (data.images.scalar_type() != torch::kUInt8 &&
       data.images.scalar_type() != torch::kFloat32)) {
    throw_runtime("data {}: expected uint8 or float32 [N, C, H, W] images", data.source);
  }
  if (data.images.scalar_type() == torch::kFloat32 &&
      (options.augment.crop || options.augment.flip || options.augment.max_shift > 0 ||
       options.augment.repetitions != 1)) {
    throw_usage("data {}: prepared float samples (patches) take no augmentation; expected "
                "augment.crop = false, augment.flip = false, augment.max_shift = 0, "
                "augment.repetitions = 1",
                data.source);
  }
  s.images = data.images.contiguous();
  s.labels = data.labels.to(torch::kInt64).contiguous();
  if (s.labels.numel() != s.images.size(0)) {
    throw_runtime("data {}: {} labels for {} images", data.source, s.labels.numel(),
                  s.images.size(0));
  }
  const int64_t channels = s.images.size(1);
  if (static_cast<int64_t>(s.norm.mean.size()) != channels ||
      static_cast<int64_t>(s.norm.std.size()) != channels) {
    throw_runtime("data {}: normalisation for {} channels, expected {}", data.source,
                  s.norm.mean.size(), channels);
  }
  for (float v : s.norm.std) {
    if (!(v > 0.0f) || !std::isfinite(v))
      throw_runtime("data {}: normalisation std {}, expected > 0", data.source, v);
  }
  if (s.indices.numel() > 0) {
    const int64_t lo = s.indices.min().item<int64_t>(), hi = s.indices.max().item<int64_t>();
    if (lo < 0 || hi >= s.images.size(0)) {
      throw_runtime("data {}: image index {} out of range [0, {})", data.source, lo < 0 ? lo : hi,
                    s.images.size(0));
    }
  }
  s.capacity = std::max<int64_t>(2, 2 * options.threads);
}

BatchLoader::~BatchLoader() { state_->stop_workers(); }

int64_t BatchLoader::size() const { return state_->indices.numel(); }

int64_t BatchLoader::batches_per_epoch() const {
  const int64_t n = size(), b = state_->options.batch_size;
  return state_->options.drop_last ? n / b : (n + b - 1) / b;
}

void BatchLoader::start_epoch(int64_t epoch, int64_t skip_batches) {
  State& s = *state_;
  s.stop_workers();
  const int64_t num_batches = batches_per_epoch();
  if (skip_batches < 0 || skip_batches > num_batches) {
    throw_runtime("cannot skip {} batches of epoch {}: it has {}", skip_batches, epoch,
                  num_batches);
  }
  const int64_t n = size();
  const int64_t* idx = s.indices.data_ptr<int64_t>();
  s.order.assign(idx, idx + n);
  if (s.options.shuffle) {
    torch::Tensor perm = seeded_permutation(
        n, derive_seed(s.options.seed, kOrderStream, static_cast<uint64_t>(epoch)));
    const int64_t* p = perm.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) s.order[static_cast<size_t>(i)] = idx[p[i]];
  }
  s.epoch = epoch;
  s.num_batches = num_batches;
  s.next_claim = s.next_deliver = skip_batches;
  s.started = true;
  if (s.options.threads > 0) {
    const int64_t threads = std::min<int64_t>(s.options.threads, num_batches - skip_batches);
    for (int64_t t = 0; t < threads; ++t) s.workers.emplace_back([&s] { s.worker(); });
  }
}

std::optional<Batch> BatchLoader::next() {
  State& s = *state_;
  if (!s.started) throw_runtime("BatchLoader::next called before start_epoch");
  if (s.options.threads == 0) {
    if (s.next_deliver >= s.num_batches) return std::nullopt;
    return s.make_batch(s.next_deliver++);
  }
  std::pair<Batch, std::exception_ptr> item;
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    if (s.next_deliver >= s.num_batches) return std::nullopt;
    s.ready_cv.wait(lock, [&] { return s.ready.count(s.next_deliver) > 0; });
    auto node = s.ready.extract(s.next_deliver);
    item = std::move(node.mapped());
    ++s.next_deliver;
  }
  s.work_cv.notify_all();
  if (item.second) std::rethrow_exception(item.second);
  return std::move(item.first);
}

}  // namespace nosharing
