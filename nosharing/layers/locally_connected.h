// Locally connected 2-D layer: a convolution-shaped layer in which every output position
// owns its kernel (DESIGN §2). PyTorch has no such layer, so this is the core of the
// unshared models.
//
// Weight layout: [P, C_out, C_in·k·k] with P = H_out·W_out positions in row-major order
// (p = y·W_out + x) and the inner axis ordered (c_in, ky, kx) like a conv kernel flattened,
// so position p's slice is exactly a conv weight `.reshape({C_out, -1})`. Bias: [P, C_out].
#pragma once

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <ostream>

namespace nosharing {

struct LocallyConnected2dOptions {
  // The input size is part of the options because the number of positions (and so the
  // weight shape) depends on it, unlike a convolution.
  LocallyConnected2dOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                            int64_t input_height, int64_t input_width);

  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  // Square kernels only: every published unshared model uses them.
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(int64_t, input_height);
  TORCH_ARG(int64_t, input_width);
  TORCH_ARG(int64_t, stride) = 1;
  // Zero padding on every side.
  TORCH_ARG(int64_t, padding) = 0;
  TORCH_ARG(bool, bias) = true;
  // Run the plain LibTorch path (unfold + bmm, locally_connected_reference.h) instead of the
  // fast CPU kernel (cpu/locally_connected_function.h). Both compute the same function; the
  // reference is the oracle the fast path is tested against.
  TORCH_ARG(bool, reference) = false;
};

// Output size of a conv-shaped layer along one axis: (input + 2·padding − kernel) / stride + 1.
int64_t conv_output_size(int64_t input, int64_t kernel, int64_t stride, int64_t padding);

// Throws c10::Error naming the bad value if the options describe an impossible layer
// (non-positive sizes or channels, stride 0, negative padding, kernel larger than the
// padded input).
void check_locally_connected2d_options(const LocallyConnected2dOptions& options);

// Throws c10::Error naming the sizes unless input is [B, C_in, H, W] as in `options`.
void check_locally_connected2d_input(const torch::Tensor& input,
                                     const LocallyConnected2dOptions& options);

// Repeats one conv kernel at every position: conv_weight [C_out, C_in, k, k] →
// [positions, C_out, C_in·k·k]. A locally connected layer with this weight computes the
// convolution (the twin), which is what weight-sharing tests and mechanisms start from.
torch::Tensor locally_connected_weight_from_conv(const torch::Tensor& conv_weight,
                                                 int64_t positions);

class LocallyConnected2dImpl : public torch::nn::Cloneable<LocallyConnected2dImpl> {
 public:
  LocallyConnected2dImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                         int64_t input_height, int64_t input_width)
      : LocallyConnected2dImpl(LocallyConnected2dOptions(in_channels, out_channels,
                                                         kernel_size, input_height,
                                                         input_width)) {}
  explicit LocallyConnected2dImpl(LocallyConnected2dOptions options);

  void reset() override;
  // Like torch::nn::Conv2d (kaiming-uniform, a = √5): weight and bias ~ U(−1/√fan_in,
  // 1/√fan_in) with fan_in = C_in·k·k, drawn independently for every position.
  void reset_parameters();

  // input [B, C_in, H, W] → [B, C_out, H_out, W_out]. The input's C, H, W must match the
  // options.
  torch::Tensor forward(const torch::Tensor& input);

  // Sets every position to the same conv kernel: weight [C_out, C_in, k, k], bias [C_out]
  // (ignored if the layer has no bias; may be undefined). Values are copied, not shared.
  void tie_to_conv(const torch::Tensor& conv_weight, const torch::Tensor& conv_bias);

  // The kernel averaged over positions as a conv weight [C_out, C_in, k, k].
  torch::Tensor mean_conv_weight() const;

  void pretty_print(std::ostream& stream) const override;

  int64_t output_height() const { return output_height_; }
  int64_t output_width() const { return output_width_; }
  // H_out·W_out.
  int64_t positions() const { return output_height_ * output_width_; }

  LocallyConnected2dOptions options;
  torch::Tensor weight;  // [P, C_out, C_in·k·k]
  torch::Tensor bias;    // [P, C_out], undefined if options.bias() is false

 private:
  int64_t output_height_ = 0;
  int64_t output_width_ = 0;
};

TORCH_MODULE(LocallyConnected2d);

}  // namespace nosharing
