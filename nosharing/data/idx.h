// IDX files (MNIST, Fashion-MNIST): train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz],
// and t10k-* for the test split.
#pragma once

#include <optional>
#include <string>

#include "nosharing/data/dataset.h"

namespace nosharing {

// The IDX images / labels file of `split` in `folder`, or nullopt if there is none.
// Names are matched loosely (train-, t10k- or test-; -idx3-ubyte or .idx3-ubyte; optional
// .gz) and a plain file wins over its .gz twin. Several candidates are a RuntimeError.
std::optional<std::string> find_idx_images(const std::string& folder, Split split);
std::optional<std::string> find_idx_labels(const std::string& folder, Split split);

// True if `folder` holds any IDX image file.
bool has_idx_files(const std::string& folder);

// Reads one split: images uint8 [N, 1, H, W], labels in [0, 10). Fashion-MNIST class
// names when the folder or its parent is named *fashion*, else "0" … "9".
Dataset read_idx(const std::string& folder, Split split);

}  // namespace nosharing
