#include "nosharing/layers/column_attention.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "nosharing/core/error.h"
#include "nosharing/core/gradcheck_test_util.h"

namespace nosharing {
namespace column_attention_test {  // named, not anonymous: the tests compile in unity batches

// With content attention off and a one-hot spatial bias (0 at the chosen column, −1e4
// elsewhere: e^{−1e4} underflows to exactly 0), every column attends to exactly the column
// chosen for it, and its output is that column's input.
TEST(ColumnAttentionTest, OneHotSpatialBiasAttendsToExactlyTheChosenColumn) {
  torch::manual_seed(1);
  const int64_t h = 2, w = 3, L = 6, D = 5;
  ColumnAttention attention(ColumnAttentionOptions(h, w, D).content_attn(false));
  EXPECT_FALSE(attention->query.defined());
  const torch::Tensor chosen = torch::tensor({4, 0, 0, 5, 2, 1}, torch::kInt64);
  {
    torch::NoGradGuard no_grad;
    attention->bias.copy_((torch::one_hot(chosen, L).to(torch::kFloat32) - 1) * 1e4);
  }
  const torch::Tensor x = torch::randn({3, L, D});
  const torch::Tensor out = attention->forward(x);
  const torch::Tensor expected = x.index_select(1, chosen);
  EXPECT_TRUE(torch::equal(out, expected));
  const torch::Tensor maps = attention->last_attention();
  ASSERT_EQ(maps.sizes(), (std::vector<int64_t>{3, L, L}));
  EXPECT_TRUE(torch::equal(maps, torch::one_hot(chosen, L).to(torch::kFloat32).expand({3, L, L})));
}

// A direct, slow computation of A_bij = softmax_j(q_i·x_bj/√D + B_ij) and out = A x.
TEST(ColumnAttentionTest, MatchesASlowDirectComputation) {
  torch::manual_seed(2);
  const int64_t h = 2, w = 2, L = 4, D = 3, B = 2;
  ColumnAttention attention(ColumnAttentionOptions(h, w, D));
  {
    torch::NoGradGuard no_grad;
    attention->query.normal_();
    attention->bias.normal_();
  }
  const torch::Tensor x = torch::randn({B, L, D}, torch::kFloat64);
  attention->to(torch::kFloat64);
  const torch::Tensor out = attention->forward(x);
  const torch::Tensor q = attention->query.detach(), bias = attention->bias.detach();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = 0; i < L; ++i) {
      std::vector<double> logits(L);
      double max_logit = -1e300;
      for (int64_t j = 0; j < L; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < D; ++d) dot += q[i][d].item<double>() * x[b][j][d].item<double>();
        logits[j] = dot / std::sqrt(static_cast<double>(D)) + bias[i][j].item<double>();
        max_logit = std::max(max_logit, logits[j]);
      }
      double z = 0;
      for (double& l : logits) z += (l = std::exp(l - max_logit));
      for (int64_t d = 0; d < D; ++d) {
        double value = 0;
        for (int64_t j = 0; j < L; ++j) value += logits[j] / z * x[b][j][d].item<double>();
        EXPECT_NEAR(out[b][i][d].item<double>(), value, 1e-12) << b << " " << i << " " << d;
      }
      EXPECT_NEAR(attention->last_attention()[b][i].sum().item<double>(), 1.0, 1e-12);
    }
  }
}

TEST(ColumnAttentionTest, SwitchesDropTheirParameters) {
  ColumnAttention both(ColumnAttentionOptions(3, 3, 4));
  EXPECT_EQ(both->parameters().size(), 2u);
  EXPECT_EQ(both->query.sizes(), (std::vector<int64_t>{9, 4}));
  EXPECT_EQ(both->bias.sizes(), (std::vector<int64_t>{9, 9}));
  ColumnAttention content_only(ColumnAttentionOptions(3, 3, 4).spatial_bias(false));
  EXPECT_EQ(content_only->parameters().size(), 1u);
  EXPECT_FALSE(content_only->bias.defined());
  // Both off: uniform attention, the mean over columns for every column.
  ColumnAttention none(ColumnAttentionOptions(3, 3, 4).content_attn(false).spatial_bias(false));
  EXPECT_TRUE(none->parameters().empty());
  const torch::Tensor x = torch::randn({2, 9, 4});
  EXPECT_TRUE(torch::allclose(none->forward(x), x.mean(1, true).expand({2, 9, 4}), 1e-6, 1e-6));
}

TEST(ColumnAttentionTest, SpatialBiasInitialisations) {
  ColumnAttention zeros(ColumnAttentionOptions(3, 4, 2));
  EXPECT_EQ(zeros->bias.abs().max().item<float>(), 0.0f);
  // Gaussian: B_ij = max(−d²/2σ², −8). On a 1×12 row with σ = 1: d = 1 → −0.5, d = 3 →
  // −4.5, d = 4 → −8 exactly, d = 11 → −60.5 floored to −8.
  const torch::Tensor g = gaussian_spatial_bias(1, 12, 1.0);
  EXPECT_DOUBLE_EQ(g[0][0].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(g[0][1].item<double>(), -0.5);
  EXPECT_DOUBLE_EQ(g[2][5].item<double>(), -4.5);
  EXPECT_DOUBLE_EQ(g[0][4].item<double>(), -8.0);
  EXPECT_DOUBLE_EQ(g[0][11].item<double>(), -8.0);
  // Diagonal distance on a grid: (0,0)–(1,1) at d² = 2 with σ = 2 → −0.25.
  ColumnAttention gaussian(
      ColumnAttentionOptions(3, 4, 2).bias_init(SpatialBiasInit::kGaussian).bias_sigma(2.0));
  EXPECT_FLOAT_EQ(gaussian->bias[0][5].item<float>(), -0.25f);
  EXPECT_TRUE(
      torch::allclose(gaussian->bias, gaussian_spatial_bias(3, 4, 2.0).to(torch::kFloat32)));
  EXPECT_EQ(parse_spatial_bias_init("gaussian", "k"), SpatialBiasInit::kGaussian);
  EXPECT_THROW(parse_spatial_bias_init("ones", "model.bias_init"), UsageError);
}

TEST(ColumnAttentionTest, AttentionDropoutOnlyInTraining) {
  torch::manual_seed(3);
  ColumnAttention attention(ColumnAttentionOptions(2, 2, 3).attn_dropout(0.5));
  const torch::Tensor x = torch::randn({8, 4, 3});
  attention->eval();
  const torch::Tensor a = attention->forward(x);
  EXPECT_TRUE(torch::allclose(a, attention->forward(x)));
  EXPECT_TRUE(torch::allclose(a, torch::matmul(attention->last_attention(), x)));
  attention->train();
  const torch::Tensor dropped = attention->forward(x);
  EXPECT_FALSE(torch::allclose(dropped, a));
  // The kept maps are the undropped ones (what the wiring cost prices).
  EXPECT_TRUE(torch::allclose(attention->last_attention().sum(-1), torch::ones({8, 4})));
}

TEST(ColumnAttentionTest, GradientsMatchFiniteDifferences) {
  torch::manual_seed(4);
  const int64_t L = 6, D = 3;
  const auto function = [](const std::vector<torch::Tensor>& in) {
    return torch::matmul(column_attention_maps(in[0], in[1], in[2]), in[0]);
  };
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      function, {torch::randn({2, L, D}), torch::randn({L, D}), torch::randn({L, L})}));
  // Content only and bias only.
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [](const std::vector<torch::Tensor>& in) {
        return torch::matmul(column_attention_maps(in[0], in[1], {}), in[0]);
      },
      {torch::randn({2, L, D}), torch::randn({L, D})}));
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [](const std::vector<torch::Tensor>& in) {
        return torch::matmul(column_attention_maps(in[0], {}, in[1]), in[0]);
      },
      {torch::randn({2, L, D}), torch::randn({L, L})}));
  // The module itself, in float64, through its parameters' gradients.
  ColumnAttention module(ColumnAttentionOptions(2, 3, D));
  module->to(torch::kFloat64);
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [&](const std::vector<torch::Tensor>& in) { return module->forward(in[0]); },
      {torch::randn({2, L, D})}));
}

TEST(ColumnAttentionTest, BadShapesAndOptionsThrow) {
  ColumnAttention attention(ColumnAttentionOptions(2, 2, 3));
  EXPECT_THROW(attention->forward(torch::randn({1, 5, 3})), c10::Error);
  EXPECT_THROW(attention->forward(torch::randn({1, 4, 2})), c10::Error);
  EXPECT_THROW(ColumnAttention(ColumnAttentionOptions(0, 2, 3)), c10::Error);
  EXPECT_THROW(ColumnAttention(ColumnAttentionOptions(2, 2, 3).attn_dropout(1.0)), c10::Error);
  EXPECT_THROW(ColumnAttention(ColumnAttentionOptions(2, 2, 3).bias_sigma(0)), c10::Error);
  EXPECT_THROW(column_attention_maps(torch::randn({1, 4, 3}), torch::randn({3, 3}), {}),
               c10::Error);
}

}  // namespace column_attention_test
}  // namespace nosharing
