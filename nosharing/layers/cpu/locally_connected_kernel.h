// Fast CPU kernels for the locally connected (unshared convolution) layer.
//
// The layer: input [B, C_in, H, W] (NCHW), weight [P, C_out, C_in·k·k] (P = H_out·W_out,
// positions row-major, the C_in·k·k index ordered like unfold: c·k·k + ky·k + kx), bias
// [P, C_out], stride s, zero padding p → output [B, C_out, H_out, W_out].
//
// Strategy (why it is fast): one GEMM per position, never the full unfold tensor.
// - The input is transposed once to "CHWN" ([C_in, H, W, B], batch innermost). A patch row
//   (c, ky, kx) is then B contiguous numbers, so gathering one position's patch
//   [C_in·k·k, B] is C_in·k·k memcpys into a small per-thread workspace that stays in cache.
// - out_p [C_out, B] = W_p [C_out, Ckk] · patch_p [Ckk, B]: the weight is the A operand, the
//   batch is N, and the GEMM writes straight into a [C_out, P, B] output (rows P·B apart),
//   returned as a tensor shaped [B, C_out, H_out, W_out] with batch-innermost strides.
//   Writing NCHW instead costs a scattered store per element (rows P·4 bytes apart alias in
//   the caches): that was 40 % of the step in a first version. A following unshared layer takes it as is
//   (no transpose); elementwise ops keep its strides.
// - OpenMP over positions; OpenBLAS is set to one thread for the duration (its own pool
//   would fight LibTorch's OpenMP pool for the same cores; single-threaded OpenBLAS is
//   safe to call from several threads at once).
// - Backward: grad_W_p = G_p · patch_pᵀ, grad_patch_p = W_pᵀ · G_p scattered back (col2im of
//   one position) into a CHWN grad_input. Positions whose patches overlap must not be
//   scattered concurrently: output rows are cut into bands tall enough that bands two
//   apart never overlap; even bands run first, then odd ones. The summation order per
//   input element is fixed by the geometry, so results are bitwise independent of the
//   number of threads.
// - Workspaces are thread_local and grow only; large tensors (output, CHWN input, weight
//   gradient) come from a recycling pool (large_buffer_pool.h): fresh allocations above
//   32 MB page-fault at ~0.45 ms/MB here (DESIGN §9).
//
// A plain loop implementation (locally_connected_forward_naive / _backward_naive) sits next
// to the fast one as the readable definition; tests check all three paths agree.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>

namespace nosharing {

struct LocallyConnectedGeometry {
  int64_t batch = 0;
  int64_t in_channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  int64_t out_channels = 0;
  int64_t kernel = 0;
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t out_height = 0;
  int64_t out_width = 0;

  int64_t positions() const { return out_height * out_width; }
  int64_t patch_size() const { return in_channels * kernel * kernel; }
  // Multiply-adds ×2 of one forward pass.
  double forward_flops() const {
    return 2.0 * batch * positions() * out_channels * patch_size();
  }
};

// Geometry of input [B, C_in, H, W] with weight [P, C_out, C_in·k·k]: k is inferred from the
// weight (C_in·k·k must be a square multiple of C_in) and P must equal H_out·W_out.
// Throws c10::Error (TORCH_CHECK) naming the offending sizes.
LocallyConnectedGeometry make_locally_connected_geometry(const at::Tensor& input,
                                                         const at::Tensor& weight,
                                                         int64_t stride, int64_t padding);

// True when x [B, C, H, W] is stored batch-innermost, i.e. is a permuted view of a
// contiguous [C, H, W, B] ("CHWN") tensor — the layout the fast kernels return.
bool is_batch_innermost(const at::Tensor& x);

// [B, C, H, W] → contiguous [C, H, W, B]. Free (a view) when the input is batch-innermost,
// e.g. the output of another locally connected layer (or an elementwise op on it);
// otherwise a blocked parallel transpose. chwn_to_nchw: back to contiguous NCHW (a copy).
at::Tensor nchw_to_chwn(const at::Tensor& input);
at::Tensor chwn_to_nchw(const at::Tensor& input_chwn);

// Forward. input_chwn [C_in, H, W, B] contiguous (from nchw_to_chwn), weight
// [P, C_out, C_in·k·k], bias [P, C_out] or undefined. Returns output [B, C_out, H_out, W_out]
// stored batch-innermost (strides of a contiguous [C_out, H_out, W_out, B]; not a view): every
// position's GEMM writes its [C_out, B] result in place, and a following unshared layer
// reads it without a transpose. Call .contiguous() where NCHW memory is required.
at::Tensor locally_connected_forward_cpu(const LocallyConnectedGeometry& geometry,
                                         const at::Tensor& input_chwn, const at::Tensor& weight,
                                         const at::Tensor& bias);

struct LocallyConnectedGrads {
  at::Tensor input;   // [B, C_in, H, W], batch-innermost (undefined unless asked for)
  at::Tensor weight;  // [P, C_out, C_in·k·k]
  at::Tensor bias;    // [P, C_out]
};

// Backward. grad_output [B, C_out, H_out, W_out]: batch-innermost is read in place, any other
// layout is gathered from NCHW. input_chwn and weight as in the forward. `needs` = {input,
// weight, bias}: gradients not needed are not computed.
LocallyConnectedGrads locally_connected_backward_cpu(const LocallyConnectedGeometry& geometry,
                                                     const at::Tensor& grad_output,
                                                     const at::Tensor& input_chwn,
                                                     const at::Tensor& weight,
                                                     std::array<bool, 3> needs);

// The readable definition: six nested loops, NCHW in and out, no BLAS. Slow; for tests.
at::Tensor locally_connected_forward_naive(const LocallyConnectedGeometry& geometry,
                                           const at::Tensor& input, const at::Tensor& weight,
                                           const at::Tensor& bias);
LocallyConnectedGrads locally_connected_backward_naive(const LocallyConnectedGeometry& geometry,
                                                       const at::Tensor& grad_output,
                                                       const at::Tensor& input,
                                                       const at::Tensor& weight);

}  // namespace nosharing
