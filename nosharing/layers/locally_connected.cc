#include "nosharing/layers/locally_connected.h"

#include "nosharing/layers/cpu/locally_connected_function.h"
#include "nosharing/layers/locally_connected_reference.h"

#include <torch/nn/functional/fold.h>

#include <cmath>

namespace nosharing {

LocallyConnected2dOptions::LocallyConnected2dOptions(int64_t in_channels, int64_t out_channels,
                                                     int64_t kernel_size,
                                                     int64_t input_height, int64_t input_width)
    : in_channels_(in_channels),
      out_channels_(out_channels),
      kernel_size_(kernel_size),
      input_height_(input_height),
      input_width_(input_width) {}

int64_t conv_output_size(int64_t input, int64_t kernel, int64_t stride, int64_t padding) {
  return (input + 2 * padding - kernel) / stride + 1;
}

void check_locally_connected2d_options(const LocallyConnected2dOptions& options) {
  TORCH_CHECK(options.in_channels() >= 1, "LocallyConnected2d: in_channels must be >= 1, got ",
              options.in_channels());
  TORCH_CHECK(options.out_channels() >= 1,
              "LocallyConnected2d: out_channels must be >= 1, got ", options.out_channels());
  TORCH_CHECK(options.kernel_size() >= 1, "LocallyConnected2d: kernel_size must be >= 1, got ",
              options.kernel_size());
  TORCH_CHECK(options.input_height() >= 1 && options.input_width() >= 1,
              "LocallyConnected2d: input size must be positive, got ", options.input_height(),
              "×", options.input_width());
  TORCH_CHECK(options.stride() >= 1, "LocallyConnected2d: stride must be >= 1, got ",
              options.stride());
  TORCH_CHECK(options.padding() >= 0, "LocallyConnected2d: padding must be >= 0, got ",
              options.padding());
  const int64_t padded_height = options.input_height() + 2 * options.padding();
  const int64_t padded_width = options.input_width() + 2 * options.padding();
  TORCH_CHECK(options.kernel_size() <= padded_height && options.kernel_size() <= padded_width,
              "LocallyConnected2d: kernel_size ", options.kernel_size(),
              " is larger than the padded input ", padded_height, "×", padded_width,
              " (input ", options.input_height(), "×", options.input_width(), ", padding ",
              options.padding(), ")");
}

void check_locally_connected2d_input(const torch::Tensor& input,
                                     const LocallyConnected2dOptions& options) {
  TORCH_CHECK(input.dim() == 4 && input.size(1) == options.in_channels() &&
                  input.size(2) == options.input_height() &&
                  input.size(3) == options.input_width(),
              "LocallyConnected2d: expected input [B, ", options.in_channels(), ", ",
              options.input_height(), ", ", options.input_width(), "], got ", input.sizes());
}

torch::Tensor locally_connected_weight_from_conv(const torch::Tensor& conv_weight,
                                                 int64_t positions) {
  TORCH_CHECK(conv_weight.dim() == 4, "LocallyConnected2d: expected a conv weight "
              "[C_out, C_in, k, k], got ", conv_weight.sizes());
  TORCH_CHECK(positions >= 1, "LocallyConnected2d: positions must be >= 1, got ", positions);
  return conv_weight.reshape({1, conv_weight.size(0), -1})
      .expand({positions, -1, -1})
      .contiguous();
}

LocallyConnected2dImpl::LocallyConnected2dImpl(LocallyConnected2dOptions options_)
    : options(std::move(options_)) {
  reset();
}

void LocallyConnected2dImpl::reset() {
  check_locally_connected2d_options(options);
  const int64_t k = options.kernel_size();
  output_height_ = conv_output_size(options.input_height(), k, options.stride(),
                                    options.padding());
  output_width_ =
      conv_output_size(options.input_width(), k, options.stride(), options.padding());
  weight = register_parameter(
      "weight",
      torch::empty({positions(), options.out_channels(), options.in_channels() * k * k}));
  if (options.bias()) {
    bias = register_parameter("bias", torch::empty({positions(), options.out_channels()}));
  } else {
    bias = register_parameter("bias", torch::Tensor(), /*requires_grad=*/false);
  }
  reset_parameters();
}

void LocallyConnected2dImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  const int64_t fan_in =
      options.in_channels() * options.kernel_size() * options.kernel_size();
  // kaiming_uniform_(a = √5) has gain √(2 / (1 + 5)) and bound gain·√(3 / fan_in) =
  // 1/√fan_in, the same bound torch::nn::Conv2d uses for its bias.
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  weight.uniform_(-bound, bound);
  if (bias.defined()) bias.uniform_(-bound, bound);
}

torch::Tensor LocallyConnected2dImpl::forward(const torch::Tensor& input) {
  check_locally_connected2d_input(input, options);
  const bool fast_kernel_applies =
      input.device().is_cpu() && (input.scalar_type() == torch::kFloat32 ||
                                  input.scalar_type() == torch::kFloat64);
  if (options.reference() || !fast_kernel_applies) {
    return locally_connected_reference(input, weight, bias, options.kernel_size(),
                                       options.stride(), options.padding());
  }
  return locally_connected_forward_fast(input, weight, bias, options.stride(), options.padding());
}

void LocallyConnected2dImpl::tie_to_conv(const torch::Tensor& conv_weight,
                                         const torch::Tensor& conv_bias) {
  const int64_t k = options.kernel_size();
  TORCH_CHECK(conv_weight.dim() == 4 && conv_weight.size(0) == options.out_channels() &&
                  conv_weight.size(1) == options.in_channels() && conv_weight.size(2) == k &&
                  conv_weight.size(3) == k,
              "LocallyConnected2d: expected a conv weight [", options.out_channels(), ", ",
              options.in_channels(), ", ", k, ", ", k, "], got ", conv_weight.sizes());
  torch::NoGradGuard no_grad;
  weight.copy_(locally_connected_weight_from_conv(conv_weight, positions()));
  if (bias.defined() && conv_bias.defined()) {
    TORCH_CHECK(conv_bias.dim() == 1 && conv_bias.size(0) == options.out_channels(),
                "LocallyConnected2d: expected a conv bias [", options.out_channels(),
                "], got ", conv_bias.sizes());
    bias.copy_(conv_bias.unsqueeze(0).expand_as(bias));
  }
}

torch::Tensor LocallyConnected2dImpl::mean_conv_weight() const {
  const int64_t k = options.kernel_size();
  return weight.mean(0).reshape({options.out_channels(), options.in_channels(), k, k});
}

void LocallyConnected2dImpl::pretty_print(std::ostream& stream) const {
  stream << "nosharing::LocallyConnected2d(" << options.in_channels() << ", "
         << options.out_channels() << ", kernel_size=" << options.kernel_size()
         << ", input=" << options.input_height() << "x" << options.input_width()
         << ", stride=" << options.stride() << ", padding=" << options.padding()
         << ", positions=" << output_height_ << "x" << output_width_;
  if (!options.bias()) stream << ", bias=false";
  stream << ")";
}

}  // namespace nosharing
