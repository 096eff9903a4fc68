#include "nosharing/data/cifar.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "nosharing/core/error.h"
#include "nosharing/data/binary_file.h"

namespace nosharing {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSide = 32;
constexpr int64_t kImageBytes = 3 * kSide * kSide;

const std::vector<std::string>& cifar10_names() {
  static const std::vector<std::string> names = {
      "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  return names;
}

const std::vector<std::string>& cifar100_fine_names() {
  static const std::vector<std::string> names = {
      "apple",       "aquarium_fish", "baby",      "bear",       "beaver",       "bed",
      "bee",         "beetle",        "bicycle",   "bottle",     "bowl",         "boy",
      "bridge",      "bus",           "butterfly", "camel",      "can",          "castle",
      "caterpillar", "cattle",        "chair",     "chimpanzee", "clock",        "cloud",
      "cockroach",   "couch",         "crab",      "crocodile",  "cup",          "dinosaur",
      "dolphin",     "elephant",      "flatfish",  "forest",     "fox",          "girl",
      "hamster",     "house",         "kangaroo",  "keyboard",   "lamp",         "lawn_mower",
      "leopard",     "lion",          "lizard",    "lobster",    "man",          "maple_tree",
      "motorcycle",  "mountain",      "mouse",     "mushroom",   "oak_tree",     "orange",
      "orchid",      "otter",         "palm_tree", "pear",       "pickup_truck", "pine_tree",
      "plain",       "plate",         "poppy",     "porcupine",  "possum",       "rabbit",
      "raccoon",     "ray",           "road",      "rocket",     "rose",         "sea",
      "seal",        "shark",         "shrew",     "skunk",      "skyscraper",   "snail",
      "snake",       "spider",        "squirrel",  "streetcar",  "sunflower",    "sweet_pepper",
      "table",       "tank",          "telephone", "television", "tiger",        "tractor",
      "train",       "trout",         "tulip",     "turtle",     "wardrobe",     "whale",
      "willow_tree", "wolf",          "woman",     "worm"};
  return names;
}

bool is_file(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

// Class names from a text file beside the batches, if present; otherwise the standard list.
std::vector<std::string> class_names_from(const std::string& folder, const char* file_name,
                                          const std::vector<std::string>& standard) {
  fs::path path = fs::path(folder) / file_name;
  if (!is_file(path)) return standard;
  std::vector<std::string> names = read_nonempty_lines(path.string());
  if (names.size() != standard.size()) {
    throw_runtime("{}: {} class names, expected {}", path.string(), names.size(), standard.size());
  }
  return names;
}

// Number of records in a batch file, checked from its size alone so the whole split can be
// allocated once before reading (DESIGN §9: large fresh allocations are slow here).
int64_t count_records(const std::string& path, int64_t label_bytes) {
  const int64_t record = label_bytes + kImageBytes;
  std::error_code ec;
  const auto size = static_cast<int64_t>(fs::file_size(path, ec));
  if (ec) throw_runtime("cannot read {}: {}", path, ec.message());
  if (size == 0 || size % record != 0) {
    throw_runtime(
        "{}: truncated CIFAR batch of {} bytes, expected a positive multiple of {} "
        "({} label byte{} + {} image bytes)",
        path, size, record, label_bytes, label_bytes == 1 ? "" : "s", kImageBytes);
  }
  return size / record;
}

// Reads `count` records of one batch file into images [count, 3, 32, 32] and labels [count].
// `label_bytes` label bytes precede each image; the last of them is the label used
// (CIFAR-100: fine after coarse).
void read_records(const std::string& path, int64_t label_bytes, int64_t num_classes, int64_t count,
                  uint8_t* images, int64_t* labels) {
  std::string bytes = read_binary_file(path);
  const int64_t record = label_bytes + kImageBytes;
  if (static_cast<int64_t>(bytes.size()) != count * record) {
    throw_runtime("{}: file changed while reading ({} bytes, expected {})", path, bytes.size(),
                  count * record);
  }
  const auto* raw = reinterpret_cast<const uint8_t*>(bytes.data());
  for (int64_t i = 0; i < count; ++i) {
    const uint8_t* rec = raw + i * record;
    const int64_t label = rec[label_bytes - 1];
    if (label >= num_classes) {
      throw_runtime("{}: label {} at record {} out of range [0, {})", path, label, i, num_classes);
    }
    labels[i] = label;
    std::memcpy(images + i * kImageBytes, rec + label_bytes, static_cast<size_t>(kImageBytes));
  }
}

Dataset read_batches(const std::vector<std::string>& files, int64_t label_bytes,
                     std::vector<std::string> names, DataFormat format, const std::string& folder) {
  std::vector<int64_t> counts;
  int64_t n = 0;
  for (const std::string& file : files) n += counts.emplace_back(count_records(file, label_bytes));
  Dataset data;
  data.images = torch::empty({n, 3, kSide, kSide}, torch::kUInt8);
  data.labels = torch::empty({n}, torch::kInt64);
  uint8_t* images = data.images.data_ptr<uint8_t>();
  int64_t* labels = data.labels.data_ptr<int64_t>();
  const auto num_classes = static_cast<int64_t>(names.size());
  for (size_t f = 0; f < files.size(); ++f) {
    read_records(files[f], label_bytes, num_classes, counts[f], images, labels);
    images += counts[f] * kImageBytes;
    labels += counts[f];
  }
  data.class_names = std::move(names);
  data.format = format;
  data.source = folder;
  return data;
}

}  // namespace

std::vector<std::string> find_cifar10_train_batches(const std::string& folder) {
  std::vector<std::pair<long, std::string>> found;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return {};
  const std::string prefix = "data_batch_";
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() + 4 || name.compare(0, prefix.size(), prefix) != 0) continue;
    if (name.compare(name.size() - 4, 4, ".bin") != 0) continue;
    std::string number = name.substr(prefix.size(), name.size() - prefix.size() - 4);
    if (number.find_first_not_of("0123456789") != std::string::npos) continue;
    if (!entry.is_regular_file(ec)) continue;
    found.emplace_back(std::stol(number), entry.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (auto& [number, path] : found) paths.push_back(path);
  return paths;
}

bool has_cifar10_files(const std::string& folder) {
  return !find_cifar10_train_batches(folder).empty() ||
         is_file(fs::path(folder) / "test_batch.bin");
}

bool has_cifar100_files(const std::string& folder) {
  return is_file(fs::path(folder) / "train.bin") || is_file(fs::path(folder) / "test.bin");
}

Dataset read_cifar10(const std::string& folder, Split split) {
  std::vector<std::string> files;
  if (split == Split::kTrain) {
    files = find_cifar10_train_batches(folder);
    if (files.empty())
      throw_runtime("data.path {}: missing data_batch_1.bin … data_batch_5.bin", folder);
  } else {
    fs::path test = fs::path(folder) / "test_batch.bin";
    if (!is_file(test)) {
      throw_runtime("data.path {}: no test split (missing {}); use the validation split", folder,
                    test.string());
    }
    files.push_back(test.string());
  }
  std::vector<std::string> names = class_names_from(folder, "batches.meta.txt", cifar10_names());
  return read_batches(files, 1, std::move(names), DataFormat::kCifar10, folder);
}

Dataset read_cifar100(const std::string& folder, Split split) {
  fs::path file = fs::path(folder) / (split == Split::kTrain ? "train.bin" : "test.bin");
  if (!is_file(file)) {
    throw_runtime("data.path {}: {}missing {}", folder,
                  split == Split::kTest ? "no test split, " : "", file.string());
  }
  std::vector<std::string> names =
      class_names_from(folder, "fine_label_names.txt", cifar100_fine_names());
  return read_batches({file.string()}, 2, std::move(names), DataFormat::kCifar100, folder);
}

}  // namespace nosharing
