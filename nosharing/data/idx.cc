#include "nosharing/data/idx.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <vector>

#include "nosharing/core/error.h"
#include "nosharing/data/binary_file.h"

namespace nosharing {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned byte, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned byte, 1 dimension
constexpr int64_t kIdxClasses = 10;

uint32_t read_be32(const std::string& bytes, size_t offset) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + offset);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool name_has_split(const std::string& name, Split split) {
  if (split == Split::kTrain) return name.find("train") != std::string::npos;
  return name.find("t10k") != std::string::npos || name.find("test") != std::string::npos;
}

// kind: "idx3-ubyte" (images) or "idx1-ubyte" (labels).
std::optional<std::string> find_idx_file(const std::string& folder, Split split,
                                         const std::string& kind) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return std::nullopt;
  std::vector<std::string> plain, gz;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    std::string name = lower(entry.path().filename().string());
    if (!name_has_split(name, split)) continue;
    size_t at = name.find(kind);
    if (at == std::string::npos || at == 0) continue;
    std::string tail = name.substr(at + kind.size());
    if (tail.empty()) {
      plain.push_back(entry.path().string());
    } else if (tail == ".gz") {
      gz.push_back(entry.path().string());
    }
  }
  // A folder where the .gz files were unpacked beside themselves holds both: read plain.
  std::vector<std::string>& found = plain.empty() ? gz : plain;
  if (found.empty()) return std::nullopt;
  std::sort(found.begin(), found.end());
  if (found.size() > 1) {
    throw_runtime("data.path {}: {} IDX {} files ({} and {}); expected one", folder, found.size(),
                  split == Split::kTrain ? "training" : "test", found[0], found[1]);
  }
  return found[0];
}

const char* split_prefix(Split split) { return split == Split::kTrain ? "train" : "t10k"; }

// The folder and its parent decide, so torchvision's FashionMNIST/raw/ counts but a
// project folder higher up that happens to say "fashion" does not.
std::vector<std::string> idx_class_names(const std::string& folder) {
  fs::path path = fs::absolute(folder).lexically_normal();
  if (!path.has_filename()) path = path.parent_path();  // trailing slash
  const std::string name =
      lower(path.parent_path().filename().string() + "/" + path.filename().string());
  if (name.find("fashion") != std::string::npos) {
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  }
  std::vector<std::string> names;
  for (int i = 0; i < kIdxClasses; ++i) names.push_back(std::to_string(i));
  return names;
}

}  // namespace

std::optional<std::string> find_idx_images(const std::string& folder, Split split) {
  return find_idx_file(folder, split, "idx3-ubyte");
}

std::optional<std::string> find_idx_labels(const std::string& folder, Split split) {
  return find_idx_file(folder, split, "idx1-ubyte");
}

bool has_idx_files(const std::string& folder) {
  return find_idx_images(folder, Split::kTrain) || find_idx_images(folder, Split::kTest);
}

Dataset read_idx(const std::string& folder, Split split) {
  const char* prefix = split_prefix(split);
  std::optional<std::string> images_path = find_idx_images(folder, split);
  if (!images_path) {
    throw_runtime("data.path {}: missing {}-images-idx3-ubyte[.gz]{}", folder, prefix,
                  split == Split::kTest ? " (no test split)" : "");
  }
  std::optional<std::string> labels_path = find_idx_labels(folder, split);
  if (!labels_path) {
    throw_runtime("data.path {}: missing {}-labels-idx1-ubyte[.gz] beside {}", folder, prefix,
                  *images_path);
  }

  // Images: magic, N, H, W (big-endian uint32), then N·H·W bytes.
  std::string image_bytes = read_binary_file(*images_path);
  if (image_bytes.size() < 16) {
    throw_runtime("{}: truncated IDX header ({} bytes, expected at least 16)", *images_path,
                  image_bytes.size());
  }
  uint32_t magic = read_be32(image_bytes, 0);
  if (magic != kImagesMagic) {
    throw_runtime("{}: wrong magic number 0x{:08x}, expected 0x{:08x} (IDX uint8 images)",
                  *images_path, magic, kImagesMagic);
  }
  const int64_t n = read_be32(image_bytes, 4);
  const int64_t height = read_be32(image_bytes, 8);
  const int64_t width = read_be32(image_bytes, 12);
  if (height == 0 || width == 0 || height > 65536 || width > 65536) {
    throw_runtime("{}: image size {}x{} in the IDX header, expected 1 to 65536 pixels a side",
                  *images_path, height, width);
  }
  // In uint64: n < 2^32 and height·width ≤ 2^32, so a garbage header cannot overflow.
  const uint64_t expected_images =
      16 + static_cast<uint64_t>(n) * static_cast<uint64_t>(height * width);
  if (image_bytes.size() != expected_images) {
    throw_runtime("{}: {} file of {} bytes, expected {} for {} images of {}x{}", *images_path,
                  image_bytes.size() < expected_images ? "truncated" : "oversized",
                  image_bytes.size(), expected_images, n, height, width);
  }

  // Labels: magic, N, then N bytes.
  std::string label_bytes = read_binary_file(*labels_path);
  if (label_bytes.size() < 8) {
    throw_runtime("{}: truncated IDX header ({} bytes, expected at least 8)", *labels_path,
                  label_bytes.size());
  }
  magic = read_be32(label_bytes, 0);
  if (magic != kLabelsMagic) {
    throw_runtime("{}: wrong magic number 0x{:08x}, expected 0x{:08x} (IDX uint8 labels)",
                  *labels_path, magic, kLabelsMagic);
  }
  const int64_t n_labels = read_be32(label_bytes, 4);
  if (n_labels != n) {
    throw_runtime("{}: {} labels, expected {} to match {}", *labels_path, n_labels, n,
                  *images_path);
  }
  if (label_bytes.size() != static_cast<uint64_t>(8 + n)) {
    throw_runtime("{}: {} file of {} bytes, expected {} for {} labels", *labels_path,
                  label_bytes.size() < static_cast<uint64_t>(8 + n) ? "truncated" : "oversized",
                  label_bytes.size(), 8 + n, n);
  }

  Dataset data;
  data.images = torch::empty({n, 1, height, width}, torch::kUInt8);
  std::memcpy(data.images.data_ptr<uint8_t>(), image_bytes.data() + 16,
              static_cast<size_t>(n * height * width));
  image_bytes.clear();
  image_bytes.shrink_to_fit();
  data.labels = torch::empty({n}, torch::kInt64);
  int64_t* labels = data.labels.data_ptr<int64_t>();
  const auto* raw = reinterpret_cast<const unsigned char*>(label_bytes.data() + 8);
  for (int64_t i = 0; i < n; ++i) {
    if (raw[i] >= kIdxClasses) {
      throw_runtime("{}: label {} at index {} out of range [0, {})", *labels_path, int{raw[i]}, i,
                    kIdxClasses);
    }
    labels[i] = raw[i];
  }
  data.class_names = idx_class_names(folder);
  data.format = DataFormat::kIdx;
  data.source = folder;
  return data;
}

}  // namespace nosharing
