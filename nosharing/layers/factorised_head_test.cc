#include "nosharing/layers/factorised_head.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "nosharing/core/gradcheck_test_util.h"

namespace nosharing {
namespace factorised_head_test {  // named, not anonymous: the tests compile in unity batches

// The factorised head is the dense linear head over the flattened grid [B, L·D] whose
// weight for class c is the rank-one u_c ⊗ v_c.
TEST(FactorisedHeadTest, EqualsADenseHeadWithRankOneWeights) {
  torch::manual_seed(1);
  const int64_t L = 6, D = 5, C = 4;
  FactorisedHead head(FactorisedHeadOptions(L, D, C));
  {
    torch::NoGradGuard no_grad;
    head->u.normal_();  // away from the uniform initialisation
    head->bias.normal_();
  }
  torch::Tensor dense = torch::empty({C, L * D});
  for (int64_t c = 0; c < C; ++c) {
    dense[c] = torch::outer(head->u[c], head->v[c]).flatten().detach();
  }
  EXPECT_TRUE(torch::allclose(head->dense_weight(), dense));
  for (int64_t c = 0; c < C; ++c) {
    // Rank one: the second singular value of the [L, D] weight vanishes.
    const torch::Tensor s = torch::linalg::svdvals(dense[c].view({L, D}), c10::nullopt);
    EXPECT_LT(s[1].item<float>(), 1e-5f * s[0].item<float>());
  }
  const torch::Tensor x = torch::randn({7, L, D});
  const torch::Tensor expected = torch::linear(x.flatten(1), dense, head->bias.detach());
  EXPECT_TRUE(torch::allclose(head->forward(x), expected, 1e-5, 1e-5));
}

// Freshly initialised, every class pools the grid uniformly: y_c = v_c · mean_i x_i.
TEST(FactorisedHeadTest, StartsAsMeanPooling) {
  torch::manual_seed(2);
  FactorisedHead head(FactorisedHeadOptions(9, 3, 2));
  EXPECT_TRUE(torch::allclose(head->u, torch::full({2, 9}, 1.0 / 9)));
  EXPECT_EQ(head->bias.abs().sum().item<float>(), 0.0f);
  const torch::Tensor x = torch::randn({4, 9, 3});
  EXPECT_TRUE(torch::allclose(head->forward(x), torch::linear(x.mean(1), head->v), 1e-5, 1e-6));
  EXPECT_EQ(head->parameters().size(), 3u);
}

TEST(FactorisedHeadTest, GradientsMatchFiniteDifferences) {
  torch::manual_seed(3);
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [](const std::vector<torch::Tensor>& in) {
        return factorised_head(in[0], in[1], in[2], in[3]);
      },
      {torch::randn({3, 4, 2}), torch::randn({3, 4}), torch::randn({3, 2}), torch::randn({3})}));
}

TEST(FactorisedHeadTest, BadShapesThrow) {
  FactorisedHead head(FactorisedHeadOptions(4, 3, 2));
  EXPECT_THROW(head->forward(torch::randn({2, 5, 3})), c10::Error);
  EXPECT_THROW(head->forward(torch::randn({2, 4, 2})), c10::Error);
  EXPECT_THROW(FactorisedHead(FactorisedHeadOptions(4, 3, 0)), c10::Error);
}

}  // namespace factorised_head_test
}  // namespace nosharing
