#include "nosharing/core/parameter_count.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace nosharing {
namespace parameter_count_test {  // named, not anonymous: the tests compile in unity batches

struct Toy : torch::nn::Module {
  Toy() {
    register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3)));
    register_module("norm", torch::nn::BatchNorm2d(4));
    register_module("act", torch::nn::ReLU());
    register_parameter("scale", torch::ones({5}));
  }
};

TEST(ParameterCountTest, PerChildThenOwnParametersSumToTotal) {
  Toy toy;
  const auto counts = parameter_counts(toy);
  const std::vector<std::pair<std::string, int64_t>> expected = {
      {"conv", 4 * 3 * 3 * 3 + 4}, {"norm", 8}, {"act", 0}, {"scale", 5}};
  EXPECT_EQ(counts, expected);
  EXPECT_EQ(parameter_count(toy), 108 + 4 + 8 + 5);
}

}  // namespace parameter_count_test
}  // namespace nosharing
