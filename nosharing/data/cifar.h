// CIFAR binary batches.
//   CIFAR-10:  data_batch_{1..5}.bin (train), test_batch.bin (test); records of 1 label byte
//              + 3072 image bytes (R, G, B planes of 32×32); names from batches.meta.txt.
//   CIFAR-100: train.bin, test.bin; records of 2 label bytes (coarse, fine) + 3072 image
//              bytes; the fine labels (100 classes) are used; names from fine_label_names.txt.
#pragma once

#include <string>
#include <vector>

#include "nosharing/data/dataset.h"

namespace nosharing {

// The CIFAR-10 training batch files in `folder` (data_batch_<k>.bin), ordered by k.
std::vector<std::string> find_cifar10_train_batches(const std::string& folder);
bool has_cifar10_files(const std::string& folder);
bool has_cifar100_files(const std::string& folder);

// images uint8 [N, 3, 32, 32], labels int64 [N]. Any whole number of records per file is
// accepted; a size that is not a multiple of the record size is a "truncated" RuntimeError.
Dataset read_cifar10(const std::string& folder, Split split);
Dataset read_cifar100(const std::string& folder, Split split);

}  // namespace nosharing
