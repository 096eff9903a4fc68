#include "nosharing/train/optimizer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <optional>

#include "nosharing/models/model.h"

namespace nosharing {
namespace optimizer_test {  // named, not anonymous: the tests compile in unity batches

TEST(OptimizerTest, ClearGradientsLeavesTheNextBackwardsGradientAsItIs) {
  torch::manual_seed(3);
  torch::Tensor used = torch::randn({4, 3}, torch::requires_grad());
  torch::Tensor unused = torch::randn({2}, torch::requires_grad());
  const Config config =
      Config::resolve(std::nullopt, {"train.optimizer=sgd", "train.lr=0.1"}, preset_toml);
  auto optimizer = make_optimizer(config, {used, unused});
  const torch::Tensor x = torch::randn({5, 4});
  torch::mm(x, used).square().sum().backward();
  ASSERT_TRUE(used.grad().defined());
  clear_gradients(*optimizer);
  EXPECT_FALSE(used.grad().defined());
  EXPECT_FALSE(unused.grad().defined());
  // The next gradient alone, not added to a previous one.
  const torch::Tensor loss = torch::mm(x, used).sum();
  loss.backward();
  EXPECT_TRUE(torch::allclose(used.grad(), x.sum(0).unsqueeze(1).expand({4, 3})));
  // A parameter the step did not reach has no gradient; the optimiser's step skips it.
  const torch::Tensor before = unused.detach().clone();
  optimizer->step();
  EXPECT_TRUE(torch::equal(unused.detach(), before));
}

}  // namespace optimizer_test
}  // namespace nosharing
