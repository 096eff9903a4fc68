#include "nosharing/core/gradcheck_test_util.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace nosharing {
namespace gradcheck_test_util_test {  // named, not anonymous: the tests compile in unity batches

TEST(GradcheckUtilTest, AcceptsCorrectGradients) {
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [](const std::vector<torch::Tensor>& t) { return torch::sin(t[0]) * t[1].sum(); },
      {torch::randn({3, 2}), torch::randn({4})}));
}

// The check must be able to fail: x.detach() · x has a gradient x under autograd but 2x
// in truth.
TEST(GradcheckUtilTest, RejectsWrongGradients) {
  EXPECT_FALSE(test_util::gradients_match_finite_differences(
      [](const std::vector<torch::Tensor>& t) { return t[0].detach() * t[0]; },
      {torch::randn({3}) + 2}));
}

}  // namespace gradcheck_test_util_test
}  // namespace nosharing
