#include "nosharing/layers/locally_connected_reference.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

namespace nosharing {

at::Tensor locally_connected_reference(const at::Tensor& input, const at::Tensor& weight,
                                       const at::Tensor& bias, int64_t kernel, int64_t stride,
                                       int64_t padding) {
  TORCH_CHECK(input.dim() == 4, "locally_connected_reference: input must be [B, C_in, H, W], got ",
              input.sizes());
  TORCH_CHECK(kernel >= 1 && stride >= 1 && padding >= 0,
              "locally_connected_reference: need kernel >= 1, stride >= 1, padding >= 0, got ",
              kernel, ", ", stride, ", ", padding);
  const int64_t batch = input.size(0), in_channels = input.size(1);
  const int64_t out_height = (input.size(2) + 2 * padding - kernel) / stride + 1;
  const int64_t out_width = (input.size(3) + 2 * padding - kernel) / stride + 1;
  const int64_t positions = out_height * out_width;
  TORCH_CHECK(input.size(2) + 2 * padding >= kernel && input.size(3) + 2 * padding >= kernel,
              "locally_connected_reference: kernel ", kernel, " larger than the padded input");
  TORCH_CHECK(weight.dim() == 3 && weight.size(0) == positions &&
                  weight.size(2) == in_channels * kernel * kernel,
              "locally_connected_reference: weight must be [P, C_out, C_in*k*k] with P = ",
              positions, ", C_in*k*k = ", in_channels * kernel * kernel, ", got ", weight.sizes());
  const int64_t out_channels = weight.size(1);
  // [B, C_in·k·k, P] → [P, B, C_in·k·k]
  const at::Tensor columns = at::im2col(input, {kernel, kernel}, {1, 1}, {padding, padding},
                                        {stride, stride})
                                 .permute({2, 0, 1});
  at::Tensor out = at::bmm(columns, weight.transpose(1, 2));  // [P, B, C_out]
  if (bias.defined()) {
    TORCH_CHECK(bias.dim() == 2 && bias.size(0) == positions && bias.size(1) == out_channels,
                "locally_connected_reference: bias must be [P, C_out] = [", positions, ", ",
                out_channels, "], got ", bias.sizes());
    out = out + bias.unsqueeze(1);
  }
  return out.permute({1, 2, 0}).reshape({batch, out_channels, out_height, out_width});
}

}  // namespace nosharing
