// NumPy .npz archives: several named .npy arrays in one zip file, as numpy.savez writes
// them, for maps and activations that leave the tool (`nosharing export`, `nosharing
// activations`) or come back to it (`nosharing rsa`). numpy.load(path)[name] gives each array
// back. Only what .npz needs of the zip format: written entries are stored (no compression),
// read ones stored or deflated (numpy.savez_compressed); no zip64 (every entry and the whole
// archive under 4 GiB, checked); CRC-32 and inflate from zlib.
#pragma once

#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace nosharing {

using NamedArrays = std::vector<std::pair<std::string, torch::Tensor>>;

// The .npz bytes of `arrays` (each as npy_bytes writes it: float64, C order), entry
// "<name>.npy" per array in the order given. Throws RuntimeError for an empty or repeated
// name, or an archive too large for a zip without zip64.
std::string npz_bytes(const NamedArrays& arrays);

// Writes npz_bytes(arrays) to `path` atomically (temporary file, then rename).
void write_npz(const std::string& path, const NamedArrays& arrays);

// The arrays of an .npz (`bytes`, the contents of a file called `name`, for messages) in the
// archive's order, names without ".npy", each as parse_npy reads it (float64). RuntimeError
// naming the file and the entry for anything else: not a zip, zip64, an encrypted entry, a
// method other than stored or deflate, a CRC mismatch, an entry that is not an .npy.
NamedArrays parse_npz(const std::string& bytes, const std::string& name);

// The arrays of the .npz file `path` (see parse_npz).
NamedArrays read_npz(const std::string& path);

}  // namespace nosharing
