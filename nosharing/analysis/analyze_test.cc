#include "nosharing/analysis/analyze.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "nosharing/core/error.h"
#include "nosharing/data/dataset.h"
#include "nosharing/data/loader.h"

namespace nosharing {
namespace analyze_test {  // named, not anonymous: the tests compile in unity batches

// A small labelled data set in memory: class k brightens row block k.
Dataset tiny_dataset(int64_t n, int64_t classes, int64_t side) {
  torch::manual_seed(11);
  Dataset data;
  data.labels = torch::arange(n) % classes;
  torch::Tensor images = torch::rand({n, 1, side, side}) * 100;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = data.labels[i].item<int64_t>();
    images[i].slice(1, k * side / classes, (k + 1) * side / classes) += 120;
  }
  data.images = images.to(torch::kUInt8);
  for (int64_t k = 0; k < classes; ++k) data.class_names.push_back("c" + std::to_string(k));
  return data;
}

AnalysisOptions fast_options() {
  AnalysisOptions o;
  o.gratings.orientations = 8;
  o.gratings.periods = {3.0, 5.0, 8.0};
  o.rf_units = 16;
  o.max_images = 50;
  return o;
}

TEST(AnalyzeTest, EveryLayerGetsEveryMeasureAndTheJsonContract) {
  const Dataset data = tiny_dataset(60, 3, 12);
  LoaderOptions loader_options;
  loader_options.batch_size = 16;
  loader_options.shuffle = false;
  loader_options.drop_last = false;
  loader_options.threads = 0;
  BatchLoader loader(data, torch::arange(60), {{0.3f}, {0.2f}}, loader_options);
  torch::manual_seed(1);
  LcNet net(LcNetOptions({1, 12, 12}, 3, {4, 9}).kernels({3}).strides({1, 2}));
  net->eval();
  const ModelAnalysis a = analyze_lcnet(*net, &loader, data.class_names, fast_options());
  ASSERT_EQ(a.layers.size(), 2u);
  EXPECT_EQ(a.images, 50);
  const LayerAnalysis& l2 = a.layers[1];
  EXPECT_EQ(l2.height, 6);
  EXPECT_EQ(l2.orientation.preferred.size(0), 9 * 36);
  EXPECT_EQ(l2.dprime.sizes(), (std::vector<int64_t>{3, 9 * 36}));
  EXPECT_EQ(l2.rf_centres.size(0), 16);
  // An LC stack is retinotopic by construction.
  EXPECT_GT(l2.rf_correlation, 0.8);
  EXPECT_LT(l2.weight_snr.squared, 0.5);

  const nlohmann::json j = analysis_to_json(a);
  ASSERT_EQ(j["layers"].size(), 2u);
  const auto& layer = j["layers"][0];
  EXPECT_EQ(layer["name"], "lc1");
  for (const char* key : {"smoothness", "pinwheel_density", "mean_selectivity"}) {
    EXPECT_TRUE(layer["orientation"].contains(key)) << key;
  }
  // A column sheet: no cortical map, the per-channel reading instead, and no pinwheels.
  EXPECT_EQ(layer["sheet"]["cortical"], false);
  EXPECT_EQ(layer["orientation"]["measured_as"], "per channel");
  EXPECT_TRUE(layer["orientation"]["smoothness"].is_null());
  EXPECT_TRUE(layer["orientation"]["channel_smoothness"].is_number());
  EXPECT_TRUE(layer["orientation"]["pinwheel_density"].is_null());
  EXPECT_TRUE(layer["orientation"]["selective_fraction"].is_number());
  EXPECT_TRUE(layer["category"]["smoothness"].is_null());
  EXPECT_TRUE(layer["category"]["channel_smoothness"].is_number());
  EXPECT_TRUE(layer["wiring_length"].is_number());
  EXPECT_TRUE(layer["category"]["patches"].is_number_integer());
  EXPECT_TRUE(layer["retinotopy"]["correlation"].is_number());
  EXPECT_TRUE(layer["weight_snr"].is_number());
  EXPECT_EQ(layer["orientation"]["curve_degrees"]["difference"].size(), 9u);
  EXPECT_EQ(layer["orientation"]["curve_degrees"]["chance"].size(), 9u);
  EXPECT_EQ(j.dump().find("NaN"), std::string::npos);
}

// Wiring length on planted weights: one input channel, 3×3 kernels, stride 1, every weight 1
// for the twin, so C = channels · Σ_j √(1 + d_j²) over the 9 offsets (d² ∈ {0, 1, 2}):
// 4 · (1 + 4·√2 + 4·√3); the unshared net with the same kernel at every position agrees.
TEST(AnalyzeTest, WiringLengthOfPlantedKernels) {
  const double expected = 4 * (1 + 4 * std::sqrt(2.0) + 4 * std::sqrt(3.0));
  LcNet twin(LcNetOptions({1, 6, 6}, 2, {4}).kernels({3}).sharing(LcNetSharing::kConv));
  LcNet unshared(LcNetOptions({1, 6, 6}, 2, {4}).kernels({3}));
  {
    torch::NoGradGuard no_grad;
    twin->conv_layers()[0].second->weight.fill_(1.0);
    unshared->unshared_layers()[0].second->weight.fill_(-1.0);  // |w| counts
  }
  twin->eval();
  unshared->eval();
  EXPECT_NEAR(analyze_lcnet(*twin, nullptr, {}, fast_options()).layers[0].wiring_length,
              expected, 1e-6);
  EXPECT_NEAR(analyze_lcnet(*unshared, nullptr, {}, fast_options()).layers[0].wiring_length,
              expected, 1e-6);
}

TEST(AnalyzeTest, TwinAndUnlabelledData) {
  torch::manual_seed(2);
  LcNet twin(LcNetOptions({3, 10, 10}, 2, {4}).kernels({3}).sharing(LcNetSharing::kConv));
  twin->eval();
  const ModelAnalysis a = analyze_lcnet(*twin, nullptr, {}, fast_options());
  const nlohmann::json j = analysis_to_json(a);
  const auto& layer = j["layers"][0];
  EXPECT_EQ(layer["unshared"], false);
  EXPECT_EQ(layer["weight_snr"].get<double>(), kMaxWeightSnr);
  EXPECT_EQ(layer["kernel_distance"]["radius_1"].get<double>(), 0.0);
  EXPECT_TRUE(layer["category"]["smoothness"].is_null());
  EXPECT_TRUE(layer["category"]["patches"].is_null());
}

// The analysis measures every layer on the sheet its model.layout gives it (the network's
// own sheets), not on the column layout.
TEST(AnalyzeTest, HypercolumnAndRetinotopicNetsAreMeasuredOnTheirOwnSheets) {
  torch::manual_seed(4);
  LcNet hypercolumn(
      LcNetOptions({1, 10, 10}, 2, {4}).kernels({3}).layout(SheetLayout::kHypercolumn));
  hypercolumn->eval();
  const ModelAnalysis a = analyze_lcnet(*hypercolumn, nullptr, {}, fast_options());
  EXPECT_EQ(a.layers[0].layout, "hypercolumn");
  EXPECT_TRUE(a.layers[0].cortical);
  EXPECT_EQ(a.layers[0].orientation_grid.sizes(), (std::vector<int64_t>{20, 20}));
  EXPECT_EQ(a.layers[0].pinwheels.winding.sizes(), (std::vector<int64_t>{19, 19}));
  const nlohmann::json j = analysis_to_json(a)["layers"][0];
  EXPECT_EQ(j["sheet"]["layout"], "hypercolumn");
  EXPECT_EQ(j["sheet"]["map_height"], 20);
  EXPECT_EQ(j["orientation"]["measured_as"], "cortical map");
  EXPECT_TRUE(j["orientation"]["smoothness"].is_number());
  EXPECT_TRUE(j["orientation"]["channel_smoothness"].is_null());
  EXPECT_TRUE(j["orientation"].contains("spectrum"));

  LcNet retinotopic(LcNetOptions({1, 10, 10}, 2, {4})
                        .kernels({3})
                        .layout(SheetLayout::kRetinotopic)
                        .sheet_extents({5.0}));
  retinotopic->eval();
  const ModelAnalysis r = analyze_lcnet(*retinotopic, nullptr, {}, fast_options());
  EXPECT_EQ(r.layers[0].layout, "retinotopic");
  EXPECT_TRUE(r.layers[0].cortical);
  EXPECT_NEAR(r.layers[0].cell_size, 0.5, 1e-12);  // extent 5 over 10 positions
  EXPECT_TRUE(torch::equal(r.layers[0].coordinates, retinotopic->sheets()[0].coordinates()));
  EXPECT_EQ(r.layers[0].orientation_grid.sizes(), (std::vector<int64_t>{10, 10}));
}

TEST(AnalyzeTest, OptionsFromConfigCheckRanges) {
  Config config;
  const AnalysisOptions o = AnalysisOptions::from_config(config);
  EXPECT_EQ(o.patches.threshold, 0.85);
  EXPECT_GE(o.gratings.orientations, 8);
  config.apply_set("analysis.orientations=4");
  EXPECT_THROW(AnalysisOptions::from_config(config), UsageError);
  Config periods;
  periods.apply_set("analysis.periods=[4.0, 8.0]");
  EXPECT_THROW(AnalysisOptions::from_config(periods), UsageError);
}

}  // namespace analyze_test
}  // namespace nosharing
