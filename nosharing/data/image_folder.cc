#include "nosharing/data/image_folder.h"

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "nosharing/core/error.h"

namespace nosharing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kImagePattern = "*.{png,jpg,jpeg}";

bool is_hidden(const fs::path& path) {
  std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

bool is_dir(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

// Non-hidden subfolders of `dir`, sorted by name (byte order, so labels do not depend on
// the locale or the file system's listing order).
std::vector<std::string> subfolder_names(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (is_hidden(entry.path()) || !entry.is_directory(ec)) continue;
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Every image under `dir` at any depth, sorted; hidden folders are not entered.
std::vector<std::string> list_images_recursive(const fs::path& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) throw_runtime("cannot list {}: {}", dir.string(), ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw_runtime("cannot list {}: {}", dir.string(), ec.message());
    if (is_hidden(it->path())) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec) && is_image_file_name(it->path().filename().string())) {
      files.push_back(it->path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> list_images_flat(const fs::path& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec) && is_image_file_name(entry.path().filename().string())) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Stops at the first image found: detection must stay cheap on 100k-image trees.
bool dir_has_image(const fs::path& dir) {
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) return false;
  for (; it != end; it.increment(ec)) {
    if (ec) return false;
    if (is_hidden(it->path())) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec) && is_image_file_name(it->path().filename().string())) return true;
  }
  return false;
}

// Subfolders of `dir` that hold images.
std::vector<std::string> class_folders_with_images(const fs::path& dir) {
  std::vector<std::string> classes;
  for (const std::string& name : subfolder_names(dir)) {
    if (dir_has_image(dir / name)) classes.push_back(name);
  }
  return classes;
}

// A test folder is usable only if it is labelled with the training classes: TinyImageNet's
// val/images/ (one folder of unlabelled images) must not pass for a class called "images".
bool is_labelled_test_root(const fs::path& dir, const std::vector<std::string>& train_classes) {
  if (!is_dir(dir)) return false;
  std::vector<std::string> classes = class_folders_with_images(dir);
  if (classes.empty()) return false;
  return std::all_of(classes.begin(), classes.end(), [&](const std::string& name) {
    return std::binary_search(train_classes.begin(), train_classes.end(), name);
  });
}

std::string lowercase_name(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void check_image_size(int64_t image_size) {
  if (image_size < 1 || image_size > 4096) {
    throw_usage("data.image_size {}: expected 1 to 4096 pixels", image_size);
  }
}

}  // namespace

bool is_image_file_name(const std::string& file_name) {
  if (file_name.empty() || file_name[0] == '.') return false;
  size_t dot = file_name.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = lowercase_name(file_name.substr(dot + 1));
  return ext == "png" || ext == "jpg" || ext == "jpeg";
}

bool has_class_subfolders(const std::string& root) {
  for (const std::string& name : subfolder_names(root)) {
    if (dir_has_image(fs::path(root) / name)) return true;
  }
  return false;
}

bool has_flat_images(const std::string& root) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (entry.is_regular_file(ec) && is_image_file_name(entry.path().filename().string())) {
      return true;
    }
  }
  return false;
}

std::optional<std::string> image_folder_split_root(const std::string& root, Split split) {
  const fs::path train = fs::path(root) / "train";
  const bool split_layout = is_dir(train) && has_class_subfolders(train.string());
  if (split == Split::kTrain) return split_layout ? train.string() : root;
  if (!split_layout) return std::nullopt;
  std::vector<std::string> train_classes = subfolder_names(train);
  for (const char* name : {"test", "val"}) {
    const fs::path candidate = fs::path(root) / name;
    if (is_labelled_test_root(candidate, train_classes)) return candidate.string();
  }
  return std::nullopt;
}

torch::Tensor decode_images(const std::vector<std::string>& files, int64_t size) {
  const auto n = static_cast<int64_t>(files.size());
  const int64_t plane = size * size;
  // Decoded as RGB; reduced to one channel at the end if every image was grey. One pass
  // instead of probing every header first.
  torch::Tensor rgb = torch::empty({n, 3, size, size}, torch::kUInt8);
  uint8_t* out = rgb.data_ptr<uint8_t>();
  std::vector<uint8_t> grey(static_cast<size_t>(n), 0);

  std::atomic<int64_t> next{0};
  std::mutex error_mutex;
  int64_t error_index = n;
  std::string error_message;

  auto work = [&]() {
    std::vector<uint8_t> resized(static_cast<size_t>(plane * 3));
    for (int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
      const std::string& file = files[static_cast<size_t>(i)];
      int width = 0, height = 0, channels = 0;
      uint8_t* pixels = stbi_load(file.c_str(), &width, &height, &channels, 3);
      if (pixels == nullptr) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (i < error_index) {
          error_index = i;
          const char* reason = stbi_failure_reason();
          error_message = fmt::format("{}: cannot decode image ({}); expected a PNG or JPEG file",
                                      file, reason ? reason : "unknown error");
        }
        continue;
      }
      const uint8_t* hwc = pixels;
      if (width != size || height != size) {
        if (!stbir_resize_uint8(pixels, width, height, 0, resized.data(), static_cast<int>(size),
                                static_cast<int>(size), 0, 3)) {
          stbi_image_free(pixels);
          std::lock_guard<std::mutex> lock(error_mutex);
          if (i < error_index) {
            error_index = i;
            error_message = fmt::format("{}: cannot resize {}x{} image to {}x{}", file, width,
                                        height, size, size);
          }
          continue;
        }
        hwc = resized.data();
      }
      // [H, W, 3] interleaved → [3, H, W] planes.
      uint8_t* dst = out + i * 3 * plane;
      for (int64_t p = 0; p < plane; ++p) {
        dst[p] = hwc[3 * p];
        dst[plane + p] = hwc[3 * p + 1];
        dst[2 * plane + p] = hwc[3 * p + 2];
      }
      grey[static_cast<size_t>(i)] = channels <= 2;  // grey or grey + alpha
      stbi_image_free(pixels);
    }
  };
  const int64_t threads = std::max<int64_t>(
      1, std::min<int64_t>(
             {static_cast<int64_t>(std::thread::hardware_concurrency()), 8, n / 16 + 1}));
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  if (error_index < n) throw RuntimeError(error_message);

  const bool all_grey = std::all_of(grey.begin(), grey.end(), [](uint8_t g) { return g != 0; });
  if (n > 0 && all_grey) return rgb.narrow(1, 0, 1).contiguous();
  return rgb;
}

Dataset read_image_folder(const std::string& root, Split split, int64_t image_size) {
  check_image_size(image_size);
  std::optional<std::string> split_root = image_folder_split_root(root, split);
  if (!split_root) {
    throw_runtime(
        "data.path {}: no test split (looked for test/ or val/ holding class folders "
        "of the training classes beside train/)",
        root);
  }
  const std::string train_root = *image_folder_split_root(root, Split::kTrain);
  std::vector<std::string> classes = subfolder_names(train_root);
  if (classes.empty()) {
    throw_runtime("no images found under {} (looked for <class>/**/{})", train_root, kImagePattern);
  }

  std::vector<std::string> files;
  std::vector<int64_t> labels;
  // The test split is labelled by the training classes' order, so class indices agree.
  const std::vector<std::string> split_classes =
      split == Split::kTrain ? classes : class_folders_with_images(*split_root);
  for (const std::string& name : split_classes) {
    const int64_t label = std::lower_bound(classes.begin(), classes.end(), name) - classes.begin();
    std::vector<std::string> class_files = list_images_recursive(fs::path(*split_root) / name);
    if (class_files.empty()) {
      throw_runtime("class folder {} has no images (looked for **/{})",
                    (fs::path(*split_root) / name).string(), kImagePattern);
    }
    files.insert(files.end(), class_files.begin(), class_files.end());
    labels.insert(labels.end(), class_files.size(), label);
  }

  Dataset data;
  data.images = decode_images(files, image_size);
  data.labels = torch::tensor(labels, torch::kInt64);
  data.class_names = std::move(classes);
  data.format = DataFormat::kImageFolder;
  data.source = root;
  return data;
}

std::vector<std::string> list_flat_image_files(const std::string& root) {
  return list_images_flat(root);
}

Dataset read_flat_images(const std::string& root, int64_t image_size) {
  check_image_size(image_size);
  std::vector<std::string> files = list_images_flat(root);
  if (files.empty()) throw_runtime("no images found under {} (looked for {})", root, kImagePattern);
  Dataset data;
  data.images = decode_images(files, image_size);
  data.labels = torch::full({static_cast<int64_t>(files.size())}, -1, torch::kInt64);
  data.format = DataFormat::kFlatImages;
  data.source = root;
  return data;
}

}  // namespace nosharing
