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

// Makes LibTorch's CPU allocator (at::empty and every op's output) take blocks of ≥ 128 kB
// from the pool, smaller ones from LibTorch's default allocator. Without it a training step
// maps its large temporaries afresh each time — LibTorch's optimizers, the gradients
// autograd allocates anew every backward, the activations — (issue 22: 112,000 minor page
// faults, 459 MB, per ott-cifar step). Idempotent; the command-line tool calls it at start.
// Tensors allocated before the call are freed by the allocator that made them.
void install_pooling_cpu_allocator();
bool pooling_cpu_allocator_installed();
// install_pooling_cpu_allocator() unless the environment has NOSHARING_CPU_ALLOCATOR=libtorch
// (LibTorch's own allocator, for comparison); what the command-line tool and the benchmarks
// call at start.
void install_cpu_allocator_from_environment();

}  // namespace nosharing
