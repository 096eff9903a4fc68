#include "nosharing/layers/column_mlp.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "nosharing/core/gradcheck_test_util.h"

namespace nosharing {
namespace column_mlp_test {  // named, not anonymous: the tests compile in unity batches

// A plain MLP (torch::linear, exact GELU, torch::linear) with column l's weights.
torch::Tensor plain_mlp(const torch::Tensor& x, const ColumnMlp& mlp, int64_t l) {
  const torch::Tensor hidden =
      torch::gelu(torch::linear(x, mlp->fc1->weight[l], mlp->fc1->bias[l]));
  return torch::linear(hidden, mlp->fc2->weight[l], mlp->fc2->bias[l]);
}

TEST(ColumnMlpTest, OneColumnEqualsAPlainMlp) {
  torch::manual_seed(1);
  ColumnMlp mlp(ColumnMlpOptions(1, 16).mlp_ratio(0.25));
  EXPECT_EQ(mlp->hidden(), 4);
  const torch::Tensor x = torch::randn({5, 1, 16});
  const torch::Tensor out = mlp->forward(x);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{5, 1, 16}));
  EXPECT_TRUE(torch::allclose(out.squeeze(1), plain_mlp(x.squeeze(1), mlp, 0), 1e-5, 1e-6));
}

// Every column of a grid is its own plain MLP, and the fast kernel and the reference path
// agree.
TEST(ColumnMlpTest, EveryColumnIsItsOwnMlpOnBothPaths) {
  torch::manual_seed(2);
  ColumnMlp fast(ColumnMlpOptions(6, 8).out_dim(5));
  ColumnMlp reference(ColumnMlpOptions(6, 8).out_dim(5).reference(true));
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < fast->parameters().size(); ++i) {
      reference->parameters()[i].copy_(fast->parameters()[i]);
    }
  }
  const torch::Tensor x = torch::randn({4, 6, 8});
  const torch::Tensor out = fast->forward(x);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{4, 6, 5}));
  EXPECT_TRUE(torch::allclose(out, reference->forward(x), 1e-5, 1e-6));
  for (int64_t l = 0; l < 6; ++l) {
    EXPECT_TRUE(torch::allclose(out.select(1, l), plain_mlp(x.select(1, l), fast, l), 1e-5, 1e-6))
        << "column " << l;
  }
  // The columns differ: column 0's MLP applied to column 1 is not column 1's output.
  EXPECT_FALSE(torch::allclose(out.select(1, 1), plain_mlp(x.select(1, 1), fast, 0), 1e-3, 1e-3));
  EXPECT_TRUE(torch::allclose(
      out, column_mlp(x, fast->fc1->weight, fast->fc1->bias, fast->fc2->weight, fast->fc2->bias)));
}

TEST(ColumnMlpTest, HiddenWidthIsRoundedRatioAtLeastOne) {
  EXPECT_EQ(column_mlp_hidden(128, 0.125), 16);
  EXPECT_EQ(column_mlp_hidden(64, 0.125), 8);
  EXPECT_EQ(column_mlp_hidden(20, 0.125), 3);  // 2.5 rounds away from zero
  EXPECT_EQ(column_mlp_hidden(3, 0.125), 1);   // 0.375 → 0 → at least 1
  EXPECT_EQ(column_mlp_hidden(8, 4.0), 32);
  EXPECT_THROW(column_mlp_hidden(8, 0.0), c10::Error);
  EXPECT_THROW(column_mlp_hidden(0, 1.0), c10::Error);
  ColumnMlp mlp(ColumnMlpOptions(4, 64));
  EXPECT_EQ(mlp->fc1->weight.sizes(), (std::vector<int64_t>{4, 8, 64}));
  EXPECT_EQ(mlp->fc2->weight.sizes(), (std::vector<int64_t>{4, 64, 8}));
}

TEST(ColumnMlpTest, GradientsMatchFiniteDifferences) {
  torch::manual_seed(3);
  const int64_t L = 3, D = 4, H = 2, O = 3;
  for (bool reference : {false, true}) {
    EXPECT_TRUE(test_util::gradients_match_finite_differences(
        [reference](const std::vector<torch::Tensor>& in) {
          return column_mlp(in[0], in[1], in[2], in[3], in[4], reference);
        },
        {torch::randn({2, L, D}), torch::randn({L, H, D}), torch::randn({L, H}),
         torch::randn({L, O, H}), torch::randn({L, O})}))
        << (reference ? "reference" : "fast");
  }
}

TEST(ColumnMlpTest, BadInputThrows) {
  ColumnMlp mlp(ColumnMlpOptions(4, 8));
  EXPECT_THROW(mlp->forward(torch::randn({2, 3, 8})), c10::Error);
  EXPECT_THROW(mlp->forward(torch::randn({2, 4, 7})), c10::Error);
}

}  // namespace column_mlp_test
}  // namespace nosharing
