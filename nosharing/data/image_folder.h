// Folders of PNG / JPEG images, decoded with stb_image and resized to a square.
//   labelled  root/<class>/**/*.{png,jpg,jpeg} — classes are the sorted subfolder names.
//             When root/train/ holds the class folders (TinyImageNet: train/<wnid>/images/),
//             root/train is the training split and root/test or root/val the test split,
//             if its class folders are among the training classes.
//   flat      root/*.{png,jpg,jpeg} — unlabelled (labels -1, no class names).
// Images are kept as 1 channel only if every image is greyscale, otherwise 3 (RGB).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nosharing/data/dataset.h"

namespace nosharing {

// "png", "jpg", "jpeg" in any case; hidden files (".xyz", macOS "._xyz") are not images.
bool is_image_file_name(const std::string& file_name);

// True if some non-hidden subfolder of `root` holds an image at any depth.
bool has_class_subfolders(const std::string& root);
// True if `root` itself holds an image file (not looking into subfolders).
bool has_flat_images(const std::string& root);

// The folder whose class subfolders make up `split`, or nullopt if there is none (the test
// split of a folder without train/ + test/ or val/).
std::optional<std::string> image_folder_split_root(const std::string& root, Split split);

// The image files directly in `root` (not in subfolders), sorted by path: the order of
// read_flat_images' images.
std::vector<std::string> list_flat_image_files(const std::string& root);

// images uint8 [N, C, image_size, image_size], C ∈ {1, 3}; labels int64 [N].
Dataset read_image_folder(const std::string& root, Split split, int64_t image_size);
Dataset read_flat_images(const std::string& root, int64_t image_size);

// Decodes and resizes `files` in parallel into uint8 [N, C, size, size]. RuntimeError naming
// the first file (in list order) that cannot be decoded.
torch::Tensor decode_images(const std::vector<std::string>& files, int64_t size);

}  // namespace nosharing
