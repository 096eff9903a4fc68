#include "nosharing/layers/cpu/locally_connected_kernel.h"

#include <ATen/Dispatch.h>
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>

#include "nosharing/core/blas.h"
#include "nosharing/core/large_buffer_pool.h"
#include "nosharing/core/vectorised.h"

namespace nosharing {

LocallyConnectedGeometry make_locally_connected_geometry(const at::Tensor& input,
                                                         const at::Tensor& weight,
                                                         int64_t stride, int64_t padding) {
  TORCH_CHECK(input.dim() == 4, "locally connected: input must be [B, C_in, H, W], got ",
              input.sizes());
  TORCH_CHECK(weight.dim() == 3, "locally connected: weight must be [P, C_out, C_in*k*k], got ",
              weight.sizes());
  TORCH_CHECK(stride >= 1, "locally connected: stride must be >= 1, got ", stride);
  TORCH_CHECK(padding >= 0, "locally connected: padding must be >= 0, got ", padding);
  LocallyConnectedGeometry g;
  g.batch = input.size(0);
  g.in_channels = input.size(1);
  g.height = input.size(2);
  g.width = input.size(3);
  g.out_channels = weight.size(1);
  g.stride = stride;
  g.padding = padding;
  const int64_t patch = weight.size(2);
  TORCH_CHECK(g.in_channels > 0 && patch % g.in_channels == 0,
              "locally connected: weight's last dimension ", patch,
              " is not C_in*k*k for C_in = ", g.in_channels);
  const int64_t area = patch / g.in_channels;
  g.kernel = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(area))));
  TORCH_CHECK(g.kernel >= 1 && g.kernel * g.kernel == area,
              "locally connected: weight's last dimension ", patch, " / C_in ", g.in_channels,
              " = ", area, " is not a square k*k");
  TORCH_CHECK(g.height + 2 * padding >= g.kernel && g.width + 2 * padding >= g.kernel,
              "locally connected: kernel ", g.kernel, " larger than the padded input ",
              g.height + 2 * padding, "x", g.width + 2 * padding);
  g.out_height = (g.height + 2 * padding - g.kernel) / stride + 1;
  g.out_width = (g.width + 2 * padding - g.kernel) / stride + 1;
  TORCH_CHECK(weight.size(0) == g.positions(), "locally connected: weight has ", weight.size(0),
              " positions but input ", g.height, "x", g.width, " with kernel ", g.kernel,
              ", stride ", stride, ", padding ", padding, " gives ", g.out_height, "x",
              g.out_width, " = ", g.positions());
  return g;
}

namespace {

constexpr const char* kLocallyConnectedKernel = "locally connected kernel";

// ---- Workspaces ---------------------------------------------------------------------------

// Per-thread, grow-only, 64-byte aligned scratch buffers (slot 0..3). OpenMP's pool threads
// live as long as the process, so after the first call nothing is allocated here.
template <typename T>
T* thread_workspace(int slot, int64_t count) {
  struct Buffer {
    void* data = nullptr;
    size_t bytes = 0;
    ~Buffer() { std::free(data); }
  };
  thread_local Buffer buffers[4];
  Buffer& buffer = buffers[slot];
  const size_t bytes = (static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(T) + 63) / 64 * 64;
  if (buffer.bytes < bytes) {
    std::free(buffer.data);
    buffer.data = std::aligned_alloc(64, bytes);
    if (buffer.data == nullptr) throw std::bad_alloc();
    buffer.bytes = bytes;
  }
  return static_cast<T*>(buffer.data);
}

// Positions per block when grad_output comes in NCHW: 16 floats are one 64-byte cache line.
constexpr int64_t kBlock = 16;

// NCHW rows are P·4 bytes apart, often a power of two: a loop that touches B rows at once
// maps them all to the same cache sets. block_from_nchw therefore goes through a 16×16 tile
// held in L1 and reads each NCHW row once, a whole line of 16 consecutive positions.

// grads[j, o, b] = grad_out[b, o, j] (grad_out already at p0, rows `positions` apart).
template <typename T>
NOSHARING_INLINE void block_from_nchw(const T* grad_out, int64_t count, int64_t c_out, int64_t n,
                                      int64_t positions, T* grads) {
  T tile[kBlock][kBlock];
  for (int64_t o = 0; o < c_out; ++o) {
    for (int64_t b0 = 0; b0 < n; b0 += kBlock) {
      const int64_t nb = std::min(kBlock, n - b0);
      for (int64_t bb = 0; bb < nb; ++bb) {
        const T* src = grad_out + ((b0 + bb) * c_out + o) * positions;
        for (int64_t j = 0; j < count; ++j) tile[bb][j] = src[j];
      }
      for (int64_t j = 0; j < count; ++j) {
        T* dst = grads + (j * c_out + o) * n + b0;
        for (int64_t bb = 0; bb < nb; ++bb) dst[bb] = tile[bb][j];
      }
    }
  }
}

// ---- One position's patch (im2col and col2im of a single position) -------------------------

// The in-bounds kernel offsets of output coordinate `o` along one axis: [lo, hi).
struct Span {
  int64_t lo, hi, first;  // first = input coordinate of kernel offset 0
};
Span kernel_span(int64_t out, int64_t stride, int64_t padding, int64_t kernel, int64_t size) {
  const int64_t first = out * stride - padding;
  return {std::clamp<int64_t>(-first, 0, kernel), std::clamp<int64_t>(size - first, 0, kernel),
          first};
}

// patch [C_in·k·k, B] of position (oy, ox) from x_chwn [C_in, H, W, B]. For a fixed (c, ky)
// the k rows of the patch are k consecutive pixels of one input row: one memcpy.
template <typename T>
void gather_patch(const LocallyConnectedGeometry& g, const T* x_chwn, int64_t oy, int64_t ox,
                  T* patch) {
  const int64_t k = g.kernel, n = g.batch;
  const Span sy = kernel_span(oy, g.stride, g.padding, k, g.height);
  const Span sx = kernel_span(ox, g.stride, g.padding, k, g.width);
  for (int64_t c = 0; c < g.in_channels; ++c) {
    for (int64_t ky = 0; ky < k; ++ky) {
      T* row = patch + (c * k + ky) * k * n;
      if (ky < sy.lo || ky >= sy.hi || sx.lo >= sx.hi) {
        std::memset(row, 0, k * n * sizeof(T));
        continue;
      }
      const T* src = x_chwn + ((c * g.height + sy.first + ky) * g.width + sx.first + sx.lo) * n;
      std::memset(row, 0, sx.lo * n * sizeof(T));
      std::memcpy(row + sx.lo * n, src, (sx.hi - sx.lo) * n * sizeof(T));
      std::memset(row + sx.hi * n, 0, (k - sx.hi) * n * sizeof(T));
    }
  }
}

// grad_x_chwn += patch gradient [C_in·k·k, B] of position (oy, ox); padding rows dropped.
template <typename T>
NOSHARING_INLINE void scatter_add_patch(const LocallyConnectedGeometry& g, const T* grad_patch,
                                        int64_t oy, int64_t ox, T* grad_x_chwn) {
  const int64_t k = g.kernel, n = g.batch;
  const Span sy = kernel_span(oy, g.stride, g.padding, k, g.height);
  const Span sx = kernel_span(ox, g.stride, g.padding, k, g.width);
  const int64_t length = (sx.hi - sx.lo) * n;
  if (length <= 0) return;
  for (int64_t c = 0; c < g.in_channels; ++c) {
    for (int64_t ky = sy.lo; ky < sy.hi; ++ky) {
      const T* src = grad_patch + ((c * k + ky) * k + sx.lo) * n;
      T* dst = grad_x_chwn + ((c * g.height + sy.first + ky) * g.width + sx.first + sx.lo) * n;
      for (int64_t i = 0; i < length; ++i) dst[i] += src[i];
    }
  }
}

// ---- Forward ------------------------------------------------------------------------------

constexpr int64_t kScratchPatchSize = 256;

// out_chwn [C_out, P, B]: position p's result is the [C_out, B] matrix at out_chwn + p·B with
// rows P·B apart, so the GEMM writes it in place.
template <typename T>
void forward_impl(const LocallyConnectedGeometry& g, const T* x_chwn, const T* weight,
                  const T* bias, T* out_chwn) {
  const int64_t positions = g.positions(), c_out = g.out_channels, n = g.batch;
  const int64_t patch_size = g.patch_size();
  BlasSingleThreaded single_threaded_blas;
  at::parallel_for(0, positions, 1, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
    T* patch = thread_workspace<T>(0, patch_size * n);
    T* result = thread_workspace<T>(1, c_out * n);
    for (int64_t p = begin; p < end; ++p) {
      gather_patch(g, x_chwn, p / g.out_width, p % g.out_width, patch);
      T* out_p = out_chwn + p * n;  // [C_out, B], rows P·B apart
      const T* weight_p = weight + p * c_out * patch_size;
      // out_p = W_p [C_out, Ckk] · patch_p [Ckk, B]. The output's rows are P·B apart, often a
      // power of two, so they share cache sets. Long patches (measured: Ckk = 576, 1152) go
      // through contiguous scratch and a copy, 3–6 % faster; short ones (Ckk = 75) are written
      // in place, where the scratch copy cost ~40 % of the forward.
      if (patch_size < kScratchPatchSize) {
        gemm(CblasNoTrans, CblasNoTrans, c_out, n, patch_size, weight_p, patch_size, patch, n,
             out_p, positions * n);
        if (bias != nullptr) {
          for (int64_t o = 0; o < c_out; ++o) {
            const T shift = bias[p * c_out + o];
            T* row = out_p + o * positions * n;
            for (int64_t b = 0; b < n; ++b) row[b] += shift;
          }
        }
        continue;
      }
      gemm(CblasNoTrans, CblasNoTrans, c_out, n, patch_size, weight_p, patch_size, patch, n,
           result, n);
      for (int64_t o = 0; o < c_out; ++o) {
        const T shift = bias != nullptr ? bias[p * c_out + o] : T(0);
        const T* src = result + o * n;
        T* row = out_p + o * positions * n;
        for (int64_t b = 0; b < n; ++b) row[b] = src[b] + shift;
      }
    }
  });
}

// ---- Backward -----------------------------------------------------------------------------

// Σ row[0 .. n) in 16 interleaved partial sums, which the compiler vectorises (one running
// sum cannot be, without reordering the additions). The order depends on n only.
template <typename T>
NOSHARING_INLINE T sum_row(const T* row, int64_t n) {
  constexpr int64_t kLanes = 16;
  T lanes[kLanes] = {};
  int64_t b = 0;
  for (; b + kLanes <= n; b += kLanes) {
    for (int64_t l = 0; l < kLanes; ++l) lanes[l] += row[b + l];
  }
  T sum = 0;
  for (; b < n; ++b) sum += row[b];
  for (int64_t l = 0; l < kLanes; ++l) sum += lanes[l];
  return sum;
}

// grad_out is either [C_out, P, B] (grad_out_chwn, read in place) or NCHW [B, C_out, P]
// (gathered a block of positions at a time).
template <typename T>
void backward_impl(const LocallyConnectedGeometry& g, const T* grad_out, bool grad_out_chwn,
                   const T* x_chwn, const T* weight, T* grad_x_chwn, T* grad_weight,
                   T* grad_bias) {
  const int64_t positions = g.positions(), c_out = g.out_channels, n = g.batch;
  const int64_t patch_size = g.patch_size();
  const int64_t block = kBlock;
  // Bands of output rows: band i covers input rows [i·R·s − p, ((i+1)·R − 1)·s − p + k), so
  // bands i and i+2 are disjoint when R·s ≥ k − s. Even bands scatter concurrently, then odd
  // ones. Without grad_input there is nothing to race on: one phase.
  const int64_t band_rows = std::max<int64_t>(1, (g.kernel - 1) / g.stride);  // ⌈(k−s)/s⌉
  const int64_t bands = (g.out_height + band_rows - 1) / band_rows;
  const int64_t phases = grad_x_chwn != nullptr ? 2 : 1;
  BlasSingleThreaded single_threaded_blas;
  for (int64_t phase = 0; phase < phases; ++phase) {
    const int64_t phase_bands = (bands - phase + phases - 1) / phases;
    if (phase_bands <= 0) continue;
    at::parallel_for(0, phase_bands, 1, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
      T* patch = thread_workspace<T>(0, patch_size * n);
      T* grad_patch = thread_workspace<T>(2, patch_size * n);
      T* grads = grad_out_chwn ? nullptr : thread_workspace<T>(3, block * c_out * n);
      for (int64_t i = begin; i < end; ++i) {
        const int64_t band = phase + i * phases;
        const int64_t p_begin = band * band_rows * g.out_width;
        const int64_t p_end = std::min(g.out_height, (band + 1) * band_rows) * g.out_width;
        for (int64_t p0 = p_begin; p0 < p_end; p0 += block) {
          const int64_t count = std::min(block, p_end - p0);
          if (!grad_out_chwn) block_from_nchw(grad_out + p0, count, c_out, n, positions, grads);
          for (int64_t j = 0; j < count; ++j) {
            const int64_t p = p0 + j, oy = p / g.out_width, ox = p % g.out_width;
            // G_p [C_out, B], rows ld_grad apart
            const T* grad_p = grad_out_chwn ? grad_out + p * n : grads + j * c_out * n;
            const int64_t ld_grad = grad_out_chwn ? positions * n : n;
            const T* weight_p = weight + p * c_out * patch_size;
            if (grad_bias != nullptr) {
              for (int64_t o = 0; o < c_out; ++o) {
                grad_bias[p * c_out + o] = sum_row(grad_p + o * ld_grad, n);
              }
            }
            if (grad_weight != nullptr) {
              gather_patch(g, x_chwn, oy, ox, patch);
              // grad_W_p [C_out, Ckk] = G_p [C_out, B] · patch_pᵀ [B, Ckk]
              gemm(CblasNoTrans, CblasTrans, c_out, patch_size, n, grad_p, ld_grad, patch, n,
                   grad_weight + p * c_out * patch_size, patch_size);
            }
            if (grad_x_chwn != nullptr) {
              // grad_patch_p [Ckk, B] = W_pᵀ [Ckk, C_out] · G_p [C_out, B]
              gemm(CblasTrans, CblasNoTrans, patch_size, n, c_out, weight_p, patch_size, grad_p,
                   ld_grad, grad_patch, n);
              scatter_add_patch(g, grad_patch, oy, ox, grad_x_chwn);
            }
          }
        }
      }
    });
  }
}

// ---- Transposes ---------------------------------------------------------------------------

// dst [cols, rows] = src [rows, cols]ᵀ through a 16×16 tile held in L1: src rows are read
// 16 values (a cache line of floats) at a time and dst rows written the same way. Reading
// src down a column instead touched 32 lines per tile that were `cols` values apart — 12 kB
// for ott-cifar's first layer, the same cache set each time — and re-read them per column.
// The plain path for double, and for the float path's ragged edges.
template <typename T>
NOSHARING_INLINE void transpose_tile(const T* src, T* dst, int64_t rows, int64_t cols,
                                     int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
  constexpr int64_t kTile = 16;
  T tile[kTile][kTile];
  for (int64_t r = 0; r < nr; ++r) {
    const T* in = src + (r0 + r) * cols + c0;
    for (int64_t c = 0; c < nc; ++c) tile[c][r] = in[c];
  }
  for (int64_t c = 0; c < nc; ++c) {
    T* out = dst + (c0 + c) * rows + r0;
    for (int64_t r = 0; r < nr; ++r) out[r] = tile[c][r];
  }
}

// An 8×8 block of floats transposed in registers: three rounds of shuffles (pairs of
// values, pairs of pairs, 128-bit halves), as unpcklps / shufps / vperm2f128 do on AVX.
// GCC's generic vectors compile it for the x86-64-v3 clone as such and for the baseline as
// SSE2 pairs. The scalar tile moves one value per load and per store.
typedef float Float8 __attribute__((vector_size(32)));
typedef int Int8 __attribute__((vector_size(32)));
NOSHARING_INLINE void transpose_8x8(const float* src, int64_t src_stride, float* dst,
                                    int64_t dst_stride) {
  Float8 r[8];
  for (int i = 0; i < 8; ++i) std::memcpy(&r[i], src + i * src_stride, sizeof(Float8));
  const Int8 low = {0, 8, 1, 9, 4, 12, 5, 13}, high = {2, 10, 3, 11, 6, 14, 7, 15};
  const Int8 pair_low = {0, 1, 8, 9, 4, 5, 12, 13}, pair_high = {2, 3, 10, 11, 6, 7, 14, 15};
  const Int8 half_low = {0, 1, 2, 3, 8, 9, 10, 11}, half_high = {4, 5, 6, 7, 12, 13, 14, 15};
  Float8 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = __builtin_shuffle(r[i], r[i + 1], low);       // a_i0 a_j0 a_i1 a_j1 | …4 …5
    t[i + 1] = __builtin_shuffle(r[i], r[i + 1], high);  // a_i2 a_j2 a_i3 a_j3 | …6 …7
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = __builtin_shuffle(t[i], t[i + 2], pair_low);           // column 0 | 4 of 4 rows
    u[i + 1] = __builtin_shuffle(t[i], t[i + 2], pair_high);      // column 1 | 5
    u[i + 2] = __builtin_shuffle(t[i + 1], t[i + 3], pair_low);   // column 2 | 6
    u[i + 3] = __builtin_shuffle(t[i + 1], t[i + 3], pair_high);  // column 3 | 7
  }
  for (int c = 0; c < 4; ++c) {
    const Float8 first = __builtin_shuffle(u[c], u[c + 4], half_low);    // column c
    const Float8 second = __builtin_shuffle(u[c], u[c + 4], half_high);  // column c + 4
    std::memcpy(dst + c * dst_stride, &first, sizeof(Float8));
    std::memcpy(dst + (c + 4) * dst_stride, &second, sizeof(Float8));
  }
}

// dst [cols, rows] = src [rows, cols]ᵀ, parallel over 16-column strips (each thread writes
// whole dst rows); float in 8×8 register blocks, the rest through the tile.
template <typename T>
void transpose(const T* src, T* dst, int64_t rows, int64_t cols) {
  constexpr int64_t kStrip = 16;
  const int64_t strips = (cols + kStrip - 1) / kStrip;
  at::parallel_for(0, strips, 1, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
    for (int64_t strip = begin; strip < end; ++strip) {
      const int64_t c0 = strip * kStrip, nc = std::min(kStrip, cols - c0);
      int64_t r0 = 0;
      if constexpr (std::is_same_v<T, float>) {
        if (nc == kStrip) {
          for (; r0 + 8 <= rows; r0 += 8) {
            for (int64_t c = c0; c < c0 + kStrip; c += 8) {
              transpose_8x8(src + r0 * cols + c, cols, dst + c * rows + r0, rows);
            }
          }
        }
      }
      for (; r0 < rows; r0 += kStrip) {
        transpose_tile(src, dst, rows, cols, r0, std::min(kStrip, rows - r0), c0, nc);
      }
    }
  });
}

}  // namespace

bool is_batch_innermost(const at::Tensor& x) {
  return x.dim() == 4 && x.permute({1, 2, 3, 0}).is_contiguous();
}

at::Tensor nchw_to_chwn(const at::Tensor& input) {
  TORCH_CHECK(input.dim() == 4, "nchw_to_chwn: expected [B, C, H, W], got ", input.sizes());
  check_floating_cpu(input, kLocallyConnectedKernel, "input");
  if (is_batch_innermost(input)) return input.permute({1, 2, 3, 0});  // no copy
  const at::Tensor x = input.contiguous();
  at::Tensor out = pooled_empty({x.size(1), x.size(2), x.size(3), x.size(0)}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "nchw_to_chwn", [&] {
    transpose(x.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), x.size(0),
              x.size(1) * x.size(2) * x.size(3));
  });
  return out;
}

at::Tensor chwn_to_nchw(const at::Tensor& input_chwn) {
  TORCH_CHECK(input_chwn.dim() == 4, "chwn_to_nchw: expected [C, H, W, B], got ",
              input_chwn.sizes());
  check_floating_cpu(input_chwn, kLocallyConnectedKernel, "input");
  const at::Tensor x = input_chwn.contiguous();
  at::Tensor out = pooled_empty({x.size(3), x.size(0), x.size(1), x.size(2)}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "chwn_to_nchw", [&] {
    transpose(x.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
              x.size(0) * x.size(1) * x.size(2), x.size(3));
  });
  return out;
}

at::Tensor locally_connected_forward_cpu(const LocallyConnectedGeometry& g,
                                         const at::Tensor& input_chwn, const at::Tensor& weight,
                                         const at::Tensor& bias) {
  check_floating_cpu(input_chwn, kLocallyConnectedKernel, "input");
  TORCH_CHECK(input_chwn.is_contiguous() &&
                  input_chwn.sizes() == at::IntArrayRef({g.in_channels, g.height, g.width, g.batch}),
              "locally connected kernel: input_chwn must be contiguous [C_in, H, W, B] = [",
              g.in_channels, ", ", g.height, ", ", g.width, ", ", g.batch, "], got ",
              input_chwn.sizes());
  TORCH_CHECK(weight.scalar_type() == input_chwn.scalar_type(),
              "locally connected kernel: weight dtype ", weight.scalar_type(),
              " differs from input dtype ", input_chwn.scalar_type());
  const at::Tensor w = weight.contiguous();
  const at::Tensor b = bias.defined() ? bias.contiguous() : bias;
  if (b.defined()) {
    TORCH_CHECK(b.scalar_type() == input_chwn.scalar_type(), "locally connected kernel: bias dtype ",
                b.scalar_type(), " differs from input dtype ", input_chwn.scalar_type());
  }
  // [B, C_out, H_out, W_out] stored as [C_out, H_out, W_out, B]: allocated with those strides
  // rather than as a permuted view, so in-place ops (relu_) on the output are allowed.
  const int64_t positions = g.positions();
  at::Tensor out = pooled_empty_strided(
      {g.batch, g.out_channels, g.out_height, g.out_width},
      {1, positions * g.batch, g.out_width * g.batch, g.batch}, input_chwn.options());
  if (out.numel() > 0) {
    AT_DISPATCH_FLOATING_TYPES(input_chwn.scalar_type(), "locally_connected_forward_cpu", [&] {
      forward_impl<scalar_t>(g, input_chwn.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(),
                             b.defined() ? b.data_ptr<scalar_t>() : nullptr,
                             out.data_ptr<scalar_t>());
    });
  }
  return out;
}

LocallyConnectedGrads locally_connected_backward_cpu(const LocallyConnectedGeometry& g,
                                                     const at::Tensor& grad_output,
                                                     const at::Tensor& input_chwn,
                                                     const at::Tensor& weight,
                                                     std::array<bool, 3> needs) {
  check_floating_cpu(input_chwn, kLocallyConnectedKernel, "input");
  TORCH_CHECK(grad_output.sizes() ==
                  at::IntArrayRef({g.batch, g.out_channels, g.out_height, g.out_width}),
              "locally connected kernel: grad_output must be [", g.batch, ", ", g.out_channels,
              ", ", g.out_height, ", ", g.out_width, "], got ", grad_output.sizes());
  // Batch-innermost gradients (what the layer's own output layout produces upstream) are read
  // in place; anything else is made NCHW-contiguous and gathered block by block.
  at::Tensor grad_out = grad_output.to(input_chwn.scalar_type());
  const bool grad_out_chwn = is_batch_innermost(grad_out);
  if (!grad_out_chwn) grad_out = grad_out.contiguous();
  const at::Tensor w = weight.contiguous();
  LocallyConnectedGrads grads;
  at::Tensor grad_x_chwn;
  if (needs[0]) grad_x_chwn = pooled_empty(input_chwn.sizes(), input_chwn.options()).zero_();
  if (needs[1]) grads.weight = pooled_empty(weight.sizes(), weight.options());
  if (needs[2]) grads.bias = at::empty({g.positions(), g.out_channels}, weight.options());
  if (grad_out.numel() > 0 && (needs[0] || needs[1] || needs[2])) {
    AT_DISPATCH_FLOATING_TYPES(input_chwn.scalar_type(), "locally_connected_backward_cpu", [&] {
      backward_impl<scalar_t>(g, grad_out.data_ptr<scalar_t>(), grad_out_chwn,
                              input_chwn.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(),
                              needs[0] ? grad_x_chwn.data_ptr<scalar_t>() : nullptr,
                              needs[1] ? grads.weight.data_ptr<scalar_t>() : nullptr,
                              needs[2] ? grads.bias.data_ptr<scalar_t>() : nullptr);
    });
  } else {
    if (needs[1]) grads.weight.zero_();
    if (needs[2]) grads.bias.zero_();
  }
  if (needs[0]) grads.input = grad_x_chwn.permute({3, 0, 1, 2});
  return grads;
}

// ---- The readable definition --------------------------------------------------------------
//
// out[b, o, oy, ox] = bias[p, o] + Σ_{c, ky, kx} weight[p, o, (c·k + ky)·k + kx] ·
//                     input[b, c, oy·s − pad + ky, ox·s − pad + kx]     (zero outside),
// p = oy·W_out + ox. The backward is the same sum read three ways.

namespace {

template <typename T, typename Visit>
void for_each_term(const LocallyConnectedGeometry& g, Visit visit) {
  const int64_t k = g.kernel;
  for (int64_t b = 0; b < g.batch; ++b)
    for (int64_t oy = 0; oy < g.out_height; ++oy)
      for (int64_t ox = 0; ox < g.out_width; ++ox)
        for (int64_t o = 0; o < g.out_channels; ++o)
          for (int64_t c = 0; c < g.in_channels; ++c)
            for (int64_t ky = 0; ky < k; ++ky)
              for (int64_t kx = 0; kx < k; ++kx) {
                const int64_t iy = oy * g.stride - g.padding + ky;
                const int64_t ix = ox * g.stride - g.padding + kx;
                if (iy < 0 || iy >= g.height || ix < 0 || ix >= g.width) continue;
                visit(b, o, oy * g.out_width + ox, c, iy, ix, (c * k + ky) * k + kx);
              }
}

}  // namespace

at::Tensor locally_connected_forward_naive(const LocallyConnectedGeometry& g,
                                           const at::Tensor& input, const at::Tensor& weight,
                                           const at::Tensor& bias) {
  at::Tensor out = at::zeros({g.batch, g.out_channels, g.positions()}, input.options());
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "locally_connected_forward_naive", [&] {
    auto x = input.accessor<scalar_t, 4>();
    auto w = weight.accessor<scalar_t, 3>();
    auto y = out.accessor<scalar_t, 3>();
    for_each_term<scalar_t>(g, [&](int64_t b, int64_t o, int64_t p, int64_t c, int64_t iy,
                                   int64_t ix, int64_t j) { y[b][o][p] += w[p][o][j] * x[b][c][iy][ix]; });
    if (bias.defined()) {
      auto bb = bias.accessor<scalar_t, 2>();
      for (int64_t b = 0; b < g.batch; ++b)
        for (int64_t o = 0; o < g.out_channels; ++o)
          for (int64_t p = 0; p < g.positions(); ++p) y[b][o][p] += bb[p][o];
    }
  });
  return out.view({g.batch, g.out_channels, g.out_height, g.out_width});
}

LocallyConnectedGrads locally_connected_backward_naive(const LocallyConnectedGeometry& g,
                                                       const at::Tensor& grad_output,
                                                       const at::Tensor& input,
                                                       const at::Tensor& weight) {
  LocallyConnectedGrads grads;
  grads.input = at::zeros(input.sizes(), input.options());
  grads.weight = at::zeros(weight.sizes(), weight.options());
  const at::Tensor gy = grad_output.reshape({g.batch, g.out_channels, g.positions()});
  grads.bias = gy.sum(0).t().contiguous();  // [P, C_out]
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "locally_connected_backward_naive", [&] {
    auto x = input.accessor<scalar_t, 4>();
    auto w = weight.accessor<scalar_t, 3>();
    auto dy = gy.accessor<scalar_t, 3>();
    auto dx = grads.input.accessor<scalar_t, 4>();
    auto dw = grads.weight.accessor<scalar_t, 3>();
    for_each_term<scalar_t>(g, [&](int64_t b, int64_t o, int64_t p, int64_t c, int64_t iy,
                                   int64_t ix, int64_t j) {
      dx[b][c][iy][ix] += w[p][o][j] * dy[b][o][p];
      dw[p][o][j] += x[b][c][iy][ix] * dy[b][o][p];
    });
  });
  return grads;
}

}  // namespace nosharing
