#include "nosharing/analysis/mapformer_analysis.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "nosharing/data/loader.h"

namespace nosharing {
namespace {

// A 3×3 grid (12×12 images, 4×4 patches) whose every block attends by a planted rule:
// content attention off, spatial bias one-hot on column target[i].
Mapformer planted(const std::vector<int64_t>& target) {
  Mapformer model(
      MapformerOptions(InputShape{1, 12, 12}, 3).patch(4).dim(4).depth(2).content_attn(false));
  torch::NoGradGuard no_grad;
  const torch::Tensor one_hot = torch::one_hot(torch::tensor(target), 9).to(torch::kFloat32);
  for (const auto& block : model->blocks()) block->attn->bias.copy_((one_hot - 1) * 1e4);
  model->eval();
  return model;
}

AnalysisOptions small_options() {
  AnalysisOptions options;
  options.rf_units = 16;
  options.max_images = 50;
  return options;
}

TEST(MapformerAnalysisTest, SelfAttentionIsPerfectlyRetinotopicWithNoWiring) {
  Mapformer model = planted({0, 1, 2, 3, 4, 5, 6, 7, 8});
  const MapformerAnalysis a = analyze_mapformer(*model, nullptr, {}, small_options());
  EXPECT_EQ(a.inputs, "noise");
  EXPECT_EQ(a.images, 256);
  ASSERT_EQ(a.blocks.size(), 2u);
  for (const MapformerBlockAnalysis& b : a.blocks) {
    EXPECT_TRUE(torch::allclose(b.centres, a.positions, 0, 1e-9));
    EXPECT_NEAR(b.mean_spread, 0.0, 1e-6);
    EXPECT_NEAR(b.mean_shift, 0.0, 1e-9);
    EXPECT_NEAR(b.self_attention, 1.0, 1e-9);
    EXPECT_NEAR(b.attention_correlation, 1.0, 1e-9);
    EXPECT_NEAR(b.wiring_length, 0.0, 1e-9);
    EXPECT_NEAR(b.wiring_cost, 1.0, 1e-9);
    // The residual stream keeps each column's own patch: RFs sit on their columns.
    EXPECT_EQ(b.rf_units.size(0), 16);
    EXPECT_GT(b.rf_correlation, 0.9);
  }
}

// Column (y, x) reads column (x, y): centres are the transposed positions, whose y and x are
// each uncorrelated with the column's own y and x over a square grid, so r = 0; the wiring
// length is the mean of |x − y|·√2 over the grid.
TEST(MapformerAnalysisTest, TransposedAttentionHasNoRetinotopyAndMeasuredWiring) {
  std::vector<int64_t> transpose;
  double length = 0, cost = 0;
  for (int64_t i = 0; i < 9; ++i) {
    const int64_t y = i / 3, x = i % 3;
    transpose.push_back(x * 3 + y);
    const double d = std::sqrt(2.0) * std::abs(static_cast<double>(x - y));
    length += d / 9;
    cost += std::sqrt(1 + d * d) / 9;
  }
  Mapformer model = planted(transpose);
  const MapformerAnalysis a = analyze_mapformer(*model, nullptr, {}, small_options());
  for (const MapformerBlockAnalysis& b : a.blocks) {
    EXPECT_TRUE(torch::allclose(b.centres, a.positions.flip(1), 0, 1e-9));
    EXPECT_NEAR(b.attention_correlation, 0.0, 1e-9);
    EXPECT_NEAR(b.self_attention, 3.0 / 9, 1e-9);  // the diagonal reads itself
    EXPECT_NEAR(b.wiring_length, length, 1e-9);
    EXPECT_NEAR(b.wiring_cost, cost, 1e-9);
    EXPECT_NEAR(b.mean_spread, 0.0, 1e-6);
  }
}

// Uniform attention (both switches off): every centre is the grid centre, the spread is the
// rms distance to it, the correlation is undefined (NaN, null in JSON).
TEST(MapformerAnalysisTest, UniformAttentionAndTheJson) {
  torch::manual_seed(1);
  Mapformer model(MapformerOptions(InputShape{1, 12, 12}, 3)
                      .patch(4)
                      .dim(4)
                      .depth(1)
                      .content_attn(false)
                      .spatial_bias(false));
  {
    torch::NoGradGuard no_grad;
    model->head()->u.normal_();
  }
  model->eval();
  // Validation images from a loader, capped at max_images.
  Dataset data;
  data.labels = torch::arange(40) % 3;
  data.images = (torch::rand({40, 1, 12, 12}) * 255).to(torch::kUInt8);
  data.class_names = {"a", "b", "c"};
  LoaderOptions lo;
  lo.batch_size = 16;
  lo.shuffle = false;
  lo.drop_last = false;
  lo.threads = 0;
  BatchLoader loader(data, torch::arange(40), {{0.5f}, {0.3f}}, lo);
  AnalysisOptions options = small_options();
  options.max_images = 20;
  const MapformerAnalysis a = analyze_mapformer(*model, &loader, data.class_names, options);
  EXPECT_EQ(a.inputs, "validation");
  EXPECT_EQ(a.images, 20);
  const MapformerBlockAnalysis& b = a.blocks[0];
  // (The maps are float32: 1/9 to about 1e-8.)
  EXPECT_TRUE(torch::allclose(b.centres, torch::ones({9, 2}, torch::kFloat64), 0, 1e-6));
  // Mean squared distance to the centre of a 3×3 grid: (4·1 + 4·2 + 0) / 9 = 4/3.
  EXPECT_NEAR(b.mean_spread, std::sqrt(4.0 / 3), 1e-6);
  EXPECT_TRUE(std::isnan(b.attention_correlation));
  EXPECT_TRUE(
      torch::allclose(a.head_maps, model->head()->u.detach().to(torch::kFloat64).view({3, 3, 3})));

  const nlohmann::json j = mapformer_analysis_to_json(a);
  EXPECT_EQ(j["model"], "mapformer");
  EXPECT_EQ(j["grid"]["height"], 3);
  ASSERT_EQ(j["layers"].size(), 1u);
  const nlohmann::json& layer = j["layers"][0];
  EXPECT_EQ(layer["name"], "block1");
  EXPECT_TRUE(layer["retinotopy"]["attention_correlation"].is_null());
  EXPECT_TRUE(layer["retinotopy"]["correlation"].is_number());
  EXPECT_TRUE(layer["orientation"]["smoothness"].is_null());
  EXPECT_EQ(layer["attention"]["centres"].size(), 9u);
  EXPECT_EQ(j["head"]["maps"].size(), 3u);
  EXPECT_EQ(j["head"]["maps"][0].size(), 9u);
  EXPECT_NEAR(j["head"]["maps"][1][4].get<double>(), model->head()->u[1][4].item<double>(), 1e-6);
  EXPECT_NEAR(j["wiring"]["length"].get<double>(), b.wiring_length, 1e-12);
  EXPECT_EQ(j["classes"].size(), 3u);
}

}  // namespace
}  // namespace nosharing
