// Whole-file reads for the dataset readers, with errors that name the file.
#pragma once

#include <string>
#include <vector>

namespace nosharing {

// The bytes of `path`, gunzipped when the name ends in ".gz". RuntimeError naming the file
// when it is missing, unreadable or (for .gz) not a complete gzip stream.
std::string read_binary_file(const std::string& path);

// Non-empty, whitespace-trimmed lines of a text file (class name lists such as CIFAR's
// batches.meta.txt). RuntimeError naming the file if it cannot be read.
std::vector<std::string> read_nonempty_lines(const std::string& path);

}  // namespace nosharing
