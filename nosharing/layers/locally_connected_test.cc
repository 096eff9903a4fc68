#include "nosharing/layers/locally_connected.h"
#include "nosharing/layers/locally_connected_reference.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>

#include "nosharing/core/gradcheck_test_util.h"

namespace nosharing {
namespace locally_connected_test {  // named, not anonymous: the tests compile in unity batches

using ::testing::HasSubstr;

struct Shape {
  int64_t batch, in_channels, out_channels, kernel, height, width, stride, padding;
};

LocallyConnected2dOptions options_for(const Shape& s) {
  return LocallyConnected2dOptions(s.in_channels, s.out_channels, s.kernel, s.height, s.width)
      .stride(s.stride)
      .padding(s.padding);
}

std::string error_message(const std::function<void()>& body) {
  try {
    body();
  } catch (const c10::Error& error) {
    return error.what_without_backtrace();
  }
  return "(no c10::Error thrown)";
}

TEST(LocallyConnectedTest, OutputShapeAndAccessors) {
  LocallyConnected2d layer(LocallyConnected2dOptions(3, 8, 5, 32, 20).stride(2).padding(2));
  EXPECT_EQ(layer->output_height(), 16);
  EXPECT_EQ(layer->output_width(), 10);
  EXPECT_EQ(layer->positions(), 160);
  EXPECT_EQ(layer->weight.sizes(), (std::vector<int64_t>{160, 8, 75}));
  EXPECT_EQ(layer->bias.sizes(), (std::vector<int64_t>{160, 8}));
  EXPECT_EQ(layer->forward(torch::randn({4, 3, 32, 20})).sizes(),
            (std::vector<int64_t>{4, 8, 16, 10}));
}

TEST(LocallyConnectedTest, InitialisationLikeConvAndIndependentPerPosition) {
  torch::manual_seed(1);
  LocallyConnected2d layer(LocallyConnected2dOptions(4, 16, 3, 8, 8).padding(1));
  const double bound = 1.0 / std::sqrt(4.0 * 3 * 3);
  EXPECT_LE(layer->weight.abs().max().item<double>(), bound);
  EXPECT_LE(layer->bias.abs().max().item<double>(), bound);
  // U(−b, b) has standard deviation b/√3.
  EXPECT_NEAR(layer->weight.std().item<double>(), bound / std::sqrt(3.0), 0.01 * bound);
  EXPECT_FALSE(torch::allclose(layer->weight[0], layer->weight[1]));
  EXPECT_FALSE(torch::allclose(layer->bias[0], layer->bias[1]));
}

TEST(LocallyConnectedTest, NoBias) {
  LocallyConnected2d layer(LocallyConnected2dOptions(2, 3, 3, 5, 5).bias(false));
  EXPECT_FALSE(layer->bias.defined());
  EXPECT_EQ(layer->parameters().size(), 1u);
  const auto x = torch::randn({2, 2, 5, 5});
  const auto w = layer->weight.detach().reshape({9, 3, 2, 3, 3});
  // Position (0, 0) with no bias is the dot product with the top-left 3×3 patch.
  const auto expected = torch::einsum("bchw,ochw->bo", {x.slice(2, 0, 3).slice(3, 0, 3), w[0]});
  EXPECT_TRUE(torch::allclose(layer->forward(x).select(3, 0).select(2, 0), expected, 1e-5,
                              1e-6));
}

// A layer whose positions all hold the same kernel is that kernel's convolution: outputs and
// gradients must agree with torch::conv2d (the weight and bias gradients summed over
// positions, since the conv applies its one kernel at every position).
class LocallyConnectedTiedTest : public ::testing::TestWithParam<Shape> {};

TEST_P(LocallyConnectedTiedTest, MatchesConv2dInOutputsAndGradients) {
  const Shape s = GetParam();
  torch::manual_seed(2);
  LocallyConnected2d layer(options_for(s));
  layer->to(torch::kFloat64);
  const auto dtype = torch::TensorOptions().dtype(torch::kFloat64);
  const auto conv_weight =
      torch::randn({s.out_channels, s.in_channels, s.kernel, s.kernel}, dtype).requires_grad_();
  const auto conv_bias = torch::randn({s.out_channels}, dtype).requires_grad_();
  layer->tie_to_conv(conv_weight.detach(), conv_bias.detach());
  EXPECT_TRUE(torch::allclose(layer->mean_conv_weight(), conv_weight));

  const auto input = torch::randn({s.batch, s.in_channels, s.height, s.width}, dtype);
  const auto x_lc = input.clone().requires_grad_();
  const auto x_conv = input.clone().requires_grad_();
  const auto y_lc = layer->forward(x_lc);
  const auto y_conv = torch::conv2d(x_conv, conv_weight, conv_bias, s.stride, s.padding);
  ASSERT_EQ(y_lc.sizes(), y_conv.sizes());
  EXPECT_TRUE(torch::allclose(y_lc, y_conv, 1e-10, 1e-10));

  const auto upstream = torch::randn(y_conv.sizes(), dtype);
  y_lc.backward(upstream);
  y_conv.backward(upstream);
  EXPECT_TRUE(torch::allclose(x_lc.grad(), x_conv.grad(), 1e-10, 1e-10));
  EXPECT_TRUE(torch::allclose(layer->weight.grad().sum(0).reshape(conv_weight.sizes()),
                              conv_weight.grad(), 1e-10, 1e-10));
  EXPECT_TRUE(torch::allclose(layer->bias.grad().sum(0), conv_bias.grad(), 1e-10, 1e-10));
}

// {batch, C_in, C_out, k, H, W, stride, padding}
INSTANTIATE_TEST_SUITE_P(
    LocallyConnected, LocallyConnectedTiedTest,
    ::testing::Values(Shape{3, 2, 4, 3, 6, 6, 1, 0}, Shape{3, 2, 4, 3, 6, 6, 1, 1},
                      Shape{2, 3, 5, 5, 9, 7, 2, 2}, Shape{2, 3, 5, 5, 9, 7, 2, 0},
                      Shape{1, 1, 3, 1, 4, 5, 1, 0}, Shape{2, 2, 3, 4, 4, 4, 1, 0},
                      Shape{2, 3, 4, 3, 8, 8, 3, 1}));

class LocallyConnectedGradcheckTest : public ::testing::TestWithParam<Shape> {};

TEST_P(LocallyConnectedGradcheckTest, ReferenceGradientsMatchFiniteDifferences) {
  const Shape s = GetParam();
  torch::manual_seed(3);
  LocallyConnected2d layer(options_for(s));
  const auto options = layer->options;
  const auto input = torch::randn({s.batch, s.in_channels, s.height, s.width});
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [&](const std::vector<torch::Tensor>& t) {
        return locally_connected_reference(t[0], t[1], t[2], options.kernel_size(),
                                           options.stride(), options.padding());
      },
      {input, layer->weight, layer->bias}));
}

TEST(LocallyConnectedTest, ModuleRunsTheFastKernelOrTheReference) {
  LocallyConnected2d fast(LocallyConnected2dOptions(2, 3, 3, 7, 5).stride(2).padding(1));
  LocallyConnected2d reference(
      LocallyConnected2dOptions(2, 3, 3, 7, 5).stride(2).padding(1).reference(true));
  {
    torch::NoGradGuard no_grad;
    reference->weight.copy_(fast->weight);
    reference->bias.copy_(fast->bias);
  }
  const auto x = torch::randn({2, 2, 7, 5});
  const auto expected =
      locally_connected_reference(x, fast->weight, fast->bias, 3, /*stride=*/2, /*padding=*/1);
  EXPECT_TRUE(torch::equal(reference->forward(x), expected));
  EXPECT_TRUE(torch::allclose(fast->forward(x), expected, 1e-5, 1e-6));
  EXPECT_THROW(fast->forward(torch::randn({2, 1, 7, 5})), c10::Error);
}

// {batch, C_in, C_out, k, H, W, stride, padding}
INSTANTIATE_TEST_SUITE_P(
    LocallyConnected, LocallyConnectedGradcheckTest,
    ::testing::Values(Shape{2, 2, 2, 3, 5, 5, 1, 0},   // stride 1, no padding
                      Shape{2, 2, 2, 3, 5, 5, 1, 1},   // padding k//2
                      Shape{2, 2, 3, 3, 6, 6, 2, 0},   // stride 2
                      Shape{2, 2, 2, 3, 5, 7, 2, 1},   // stride 2, padding, non-square
                      Shape{2, 1, 2, 3, 4, 6, 1, 1},   // C_in = 1, non-square
                      Shape{1, 2, 3, 3, 4, 4, 1, 1},   // batch 1
                      Shape{2, 3, 2, 1, 3, 4, 1, 0},   // k = 1
                      Shape{2, 2, 3, 4, 4, 4, 1, 0},   // k = input size: one position
                      Shape{2, 2, 2, 5, 3, 5, 1, 1})); // k = padded input height

TEST(LocallyConnectedTest, CloneIsDeep) {
  LocallyConnected2d layer(LocallyConnected2dOptions(1, 2, 3, 4, 4));
  auto copy = std::dynamic_pointer_cast<LocallyConnected2dImpl>(layer->clone());
  ASSERT_TRUE(copy);
  EXPECT_TRUE(torch::equal(copy->weight, layer->weight));
  EXPECT_NE(copy->weight.data_ptr(), layer->weight.data_ptr());
  EXPECT_EQ(copy->positions(), 4);
}

TEST(LocallyConnectedTest, BadOptionsNameTheValue) {
  EXPECT_THAT(error_message([] {
                LocallyConnected2d(LocallyConnected2dOptions(3, 8, 3, 32, 32).stride(0));
              }),
              HasSubstr("stride must be >= 1, got 0"));
  EXPECT_THAT(error_message([] {
                LocallyConnected2d(LocallyConnected2dOptions(3, 8, 40, 10, 10).padding(2));
              }),
              HasSubstr("kernel_size 40 is larger than the padded input 14×14"));
  EXPECT_THAT(error_message([] {
                LocallyConnected2d(LocallyConnected2dOptions(3, 8, 5, 32, 3).padding(0));
              }),
              HasSubstr("kernel_size 5 is larger than the padded input 32×3"));
  EXPECT_THAT(error_message([] {
                LocallyConnected2d(LocallyConnected2dOptions(3, 8, 3, 8, 8).padding(-1));
              }),
              HasSubstr("padding must be >= 0, got -1"));
  EXPECT_THAT(error_message([] { LocallyConnected2d(LocallyConnected2dOptions(0, 8, 3, 8, 8)); }),
              HasSubstr("in_channels must be >= 1, got 0"));
  EXPECT_THAT(error_message([] { LocallyConnected2d(LocallyConnected2dOptions(3, 8, 0, 8, 8)); }),
              HasSubstr("kernel_size must be >= 1, got 0"));
}

TEST(LocallyConnectedTest, WrongInputShapeNamesBothShapes) {
  LocallyConnected2d layer(LocallyConnected2dOptions(3, 8, 5, 32, 32).padding(2));
  EXPECT_THAT(error_message([&] { layer->forward(torch::randn({8, 1, 28, 28})); }),
              HasSubstr("LocallyConnected2d: expected input [B, 3, 32, 32], got [8, 1, 28, 28]"));
  EXPECT_THAT(error_message([&] { layer->forward(torch::randn({3, 32, 32})); }),
              HasSubstr("got [3, 32, 32]"));
  EXPECT_THAT(error_message([&] { layer->tie_to_conv(torch::randn({8, 3, 3, 3}), {}); }),
              HasSubstr("expected a conv weight [8, 3, 5, 5], got [8, 3, 3, 3]"));
}

}  // namespace locally_connected_test
}  // namespace nosharing
