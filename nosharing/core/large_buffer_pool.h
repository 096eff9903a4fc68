// Tensors whose memory is recycled instead of returned to the OS.
//
// glibc serves blocks above 32 MB with mmap and unmaps them on free, so every fresh large
// tensor page-faults all of its memory again: ~0.45 ms per MB here, e.g. ~35 ms for the 75 MB
// weight gradient of a 64→128 3×3 locally connected layer on 16², per training step (DESIGN
// §9). The kernels allocate their large outputs and scratch through pooled_empty: when such
// a tensor dies its buffer goes back to a process-wide free list and the next request of
// the same size gets it with its pages still mapped.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>

namespace nosharing {

// Like at::empty(sizes, options) (CPU, contiguous). Requests below 128 kB go to at::empty;
// larger ones come from the pool (buffers page-aligned; from 4 MB up in whole huge pages,
// transparent huge pages advised).
at::Tensor pooled_empty(at::IntArrayRef sizes, const at::TensorOptions& options);

// The same with explicit strides, for a dense permuted layout (e.g. sizes [B, C, H, W] with
// the batch innermost). The result is not a view, so in-place ops on it are allowed.
at::Tensor pooled_empty_strided(at::IntArrayRef sizes, at::IntArrayRef strides,
                                const at::TensorOptions& options);

// Bytes currently held in the free list (for tests and diagnostics).
size_t pooled_free_bytes();

}  // namespace nosharing
