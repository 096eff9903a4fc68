#include "nosharing/analysis/mapformer_analysis.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "nosharing/data/loader.h"

namespace nosharing {
namespace mapformer_analysis_test {  // named, not anonymous: the tests compile in unity batches

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
  // The block's columns as a sheet: D·L = 36 units, d′ per class.
  EXPECT_EQ(b.maps.coordinates.size(0), 36);
  EXPECT_EQ(b.maps.dprime.sizes(), (std::vector<int64_t>{3, 36}));
  EXPECT_EQ(b.maps.orientation.preferred.size(0), 36);
  EXPECT_TRUE(layer["orientation"].contains("smoothness"));
  EXPECT_TRUE(layer["orientation"]["mean_selectivity"].is_number());
  EXPECT_TRUE(layer["category"]["patches"].is_number());
  EXPECT_EQ(layer["category"]["images"], 20);
  // Read per channel on the column sheet, from the pairs the orientation drew (a category
  // measured before them had none: every curve null, until 2026-12-07).
  EXPECT_EQ(layer["category"]["measured_as"], "per channel");
  EXPECT_TRUE(layer["category"]["channel_smoothness"].is_number()) << layer["category"].dump();
  EXPECT_TRUE(layer["category"]["smoothness_per_class"]["a"].is_number());
  ASSERT_FALSE(b.maps.dprime_curves.empty());
  int64_t pairs = 0;
  for (int64_t n : b.maps.dprime_curves[0].pairs) pairs += n;
  EXPECT_GT(pairs, 0);
  EXPECT_EQ(layer["attention"]["centres"].size(), 9u);
  EXPECT_EQ(j["head"]["maps"].size(), 3u);
  EXPECT_EQ(j["head"]["maps"][0].size(), 9u);
  EXPECT_NEAR(j["head"]["neighbour_correlation"]["b"].get<double>(),
              grid_neighbour_correlation(a.head_maps[1]), 1e-12);
  EXPECT_TRUE(j["head"]["mean_neighbour_correlation"].is_number());
  EXPECT_NEAR(j["head"]["maps"][1][4].get<double>(), model->head()->u[1][4].item<double>(), 1e-6);
  EXPECT_NEAR(j["wiring"]["length"].get<double>(), b.wiring_length, 1e-12);
  EXPECT_EQ(j["classes"].size(), 3u);
}

// The head's regions: a ramp is perfectly correlated with its neighbours, a checkerboard
// perfectly anti-correlated, independent values about 0, a constant map undefined.
TEST(MapformerAnalysisTest, GridNeighbourCorrelationOfPlantedMaps) {
  const torch::Tensor ramp = torch::arange(8, torch::kFloat64).unsqueeze(0).expand({8, 8}) +
                             torch::arange(8, torch::kFloat64).unsqueeze(1);
  EXPECT_GT(grid_neighbour_correlation(ramp), 0.9);
  const torch::Tensor checkerboard =
      (torch::arange(8).unsqueeze(0) + torch::arange(8).unsqueeze(1)).remainder(2).to(torch::kFloat64);
  EXPECT_NEAR(grid_neighbour_correlation(checkerboard), -1.0, 1e-12);
  torch::manual_seed(5);
  EXPECT_NEAR(grid_neighbour_correlation(torch::randn({64, 64}, torch::kFloat64)), 0.0, 0.05);
  EXPECT_TRUE(std::isnan(grid_neighbour_correlation(torch::ones({4, 4}))));
  EXPECT_TRUE(std::isnan(grid_neighbour_correlation(torch::ones({1, 1}))));
}

// Planted orientation columns: a one-block mapformer whose attention and MLP add nothing
// (all their parameters zero), so the block passes the embedding on; column (y, x), channel c
// of the unshared embedding is a cosine grating of period 5 pixels at θ = ((c + y + 2x) mod
// 4)·45° over its 4×4 patch. The maps must find each unit's θ: this checks the unit order
// u = (c·h + y)·w + x and the rectified-response tuning of the block's sheet.
TEST(MapformerAnalysisTest, PlantedOrientationColumnsAreRecovered) {
  const int64_t patch = 4, grid = 3, dim = 4;
  Mapformer model(
      MapformerOptions(InputShape{1, grid * patch, grid * patch}, 2).patch(patch).dim(dim).depth(1));
  std::vector<double> planted(static_cast<size_t>(dim * grid * grid));
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->blocks()[0]->attn->parameters()) p.zero_();
    for (auto& p : model->blocks()[0]->mlp->parameters()) p.zero_();
    torch::Tensor weight = model->column_embedding()->weight;  // [L, D, 1·4·4]
    model->column_embedding()->bias.zero_();
    for (int64_t y = 0; y < grid; ++y) {
      for (int64_t x = 0; x < grid; ++x) {
        for (int64_t c = 0; c < dim; ++c) {
          const double theta = static_cast<double>((c + y + 2 * x) % 4) * M_PI / 4;
          planted[static_cast<size_t>((c * grid + y) * grid + x)] = theta;
          for (int64_t v = 0; v < patch; ++v) {
            for (int64_t u = 0; u < patch; ++u) {
              weight[y * grid + x][c][v * patch + u] =
                  std::cos(2 * M_PI * (u * std::cos(theta) + v * std::sin(theta)) / 5.0);
            }
          }
        }
      }
    }
  }
  model->eval();
  const MapformerAnalysis a = analyze_mapformer(*model, nullptr, {}, small_options());
  const LayerAnalysis& maps = a.blocks[0].maps;
  ASSERT_EQ(maps.orientation.preferred.size(0), dim * grid * grid);
  EXPECT_FALSE(maps.dprime.defined());  // noise inputs: no category maps
  for (int64_t u = 0; u < dim * grid * grid; ++u) {
    const double found = maps.orientation.preferred[u].item<double>();
    const double want = planted[static_cast<size_t>(u)];
    const double error = std::min(std::fmod(std::abs(found - want), M_PI),
                                  M_PI - std::fmod(std::abs(found - want), M_PI));
    EXPECT_LT(error * 180 / M_PI, 10.0) << "unit " << u << ": found " << found * 180 / M_PI
                                        << "°, planted " << want * 180 / M_PI << "°";
    // Its sheet position is its column's.
    const int64_t column = u % (grid * grid);
    EXPECT_EQ(maps.coordinates[u][0].item<double>(), static_cast<double>(column / grid));
    EXPECT_EQ(maps.coordinates[u][1].item<double>(), static_cast<double>(column % grid));
  }
}

}  // namespace mapformer_analysis_test
}  // namespace nosharing
