// NumPy .npy files (format versions 1.0, 2.0 and 3.0), small and strict: orientation maps
// measured elsewhere (optical imaging, another model) come in this way (`nosharing
// measure-map`). No third-party library: the format is a magic string, a Python dict
// literal and the raw array.
//
// Read: 'descr' little- or big-endian float32/float64 ('<f4', '<f8', '>f4', '>f8'; big-endian
// is byte-swapped). Every other dtype is refused, integers included: an orientation map
// needs NaN for "no unit", which integers cannot hold (save the array as floats). Fortran
// order is transposed to C order. The data must be exactly shape × itemsize bytes.
// Every error is a RuntimeError (exit 1) naming the file and what was expected.
#pragma once

#include <torch/types.h>

#include <string>

namespace nosharing {

// The array in `bytes` (the contents of an .npy file called `name`, for messages) as
// float64, C order, the shape of the file (any rank).
torch::Tensor parse_npy(const std::string& bytes, const std::string& name);

// The array in the .npy file `path` (see parse_npy).
torch::Tensor read_npy(const std::string& path);

// The .npy bytes (version 1.0, or 2.0 when the header needs it) of `tensor` as '<f8' in C
// order, header padded to a multiple of 64 bytes as NumPy writes it.
std::string npy_bytes(const torch::Tensor& tensor);

// Writes npy_bytes(tensor) to `path` atomically (temporary file, then rename).
void write_npy(const std::string& path, const torch::Tensor& tensor);

}  // namespace nosharing
