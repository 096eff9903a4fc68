#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "nosharing/core/config.h"
#include "nosharing/core/error.h"
#include "nosharing/core/parameter_count.h"
#include "nosharing/models/lcnet.h"
#include "nosharing/models/mapformer.h"
#include "nosharing/models/model.h"

namespace nosharing {
namespace registry_test {  // named, not anonymous: the tests compile in unity batches

Config resolve_preset(const std::string& name, std::vector<std::string> sets = {}) {
  sets.insert(sets.begin(), "model.preset=" + name);
  return Config::resolve(std::nullopt, sets, preset_toml);
}

TEST(RegistryTest, BuildsAnLcnetFromTheDefaultConfig) {
  Model model = build_model(Config(), InputShape{1, 28, 28}, 10);
  ASSERT_NE(std::dynamic_pointer_cast<LcNetImpl>(model), nullptr);
  EXPECT_EQ(model->forward(torch::randn({2, 1, 28, 28})).sizes(),
            (std::vector<int64_t>{2, 10}));
}

TEST(RegistryTest, ShapeErrorsFromTheConfigAreUsageErrors) {
  Config config;
  config.apply_set("model.strides=[1, 0]");
  try {
    build_model(config, InputShape{1, 28, 28}, 10);
    FAIL() << "no error";
  } catch (const UsageError& error) {
    EXPECT_STREQ(error.what(), "model.strides = [1, 0]: layer lc2 stride 0; expected >= 1");
  }
}

TEST(RegistryTest, SharingConvBuildsTheTwin) {
  Config config;
  config.apply_set("model.sharing=conv");
  auto net = std::dynamic_pointer_cast<LcNetImpl>(build_model(config, InputShape{1, 28, 28}, 10));
  ASSERT_NE(net, nullptr);
  EXPECT_EQ(net->conv_layers().size(), 2u);
  EXPECT_TRUE(net->unshared_layers().empty());
}

// model.lc_init = shared: one draw per layer, repeated at every position (weight SNR 1e12),
// drawn from the same distribution as an independent position's kernel (same spread).
TEST(RegistryTest, SharedInitialKernelsRepeatOneDrawPerLayer) {
  for (const std::string& preset : {"ott-cifar", "pogodin-resnet20"}) {
    torch::manual_seed(3);
    const Model independent = build_model(resolve_preset(preset), InputShape{3, 32, 32}, 10);
    torch::manual_seed(3);
    const Model shared =
        build_model(resolve_preset(preset, {"model.lc_init=shared"}), InputShape{3, 32, 32}, 10);
    const auto a = independent->unshared_layers(), b = shared->unshared_layers();
    ASSERT_EQ(a.size(), b.size()) << preset;
    ASSERT_FALSE(b.empty()) << preset;
    for (size_t l = 0; l < b.size(); ++l) {
      const torch::Tensor w = b[l].second->weight;
      EXPECT_TRUE(torch::equal(w, w[0].unsqueeze(0).expand_as(w))) << preset << " " << b[l].first;
      EXPECT_TRUE(torch::equal(w[0], a[l].second->weight[0])) << preset << " " << b[l].first;
      EXPECT_NEAR(w[0].std().item<double>(), a[l].second->weight.std().item<double>(),
                  0.1 * a[l].second->weight.std().item<double>());
    }
  }
  Config bad = resolve_preset("ott-cifar");
  try {
    bad.apply_set("model.lc_init=tied");
    build_model(bad, InputShape{3, 32, 32}, 10);
    ADD_FAILURE() << "model.lc_init=tied accepted";
  } catch (const std::exception& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("model.lc_init"));
  }
}

TEST(PresetTest, DefaultPresetExistsAndEveryPresetResolves) {
  const auto names = preset_names();
  EXPECT_EQ(names, (std::vector<std::string>{"fmnist-lc", "fmnist-lc-topo",
                                              "fmnist-hypercolumn-topo", "alltnn-small",
                                              "pogodin-resnet20", "ott-cifar", "mapformer-fmnist",
                                              "mapformer-cifar", "wlsc"}));
  EXPECT_THAT(names, ::testing::Contains(Config().get_string("model.preset")));
  for (const auto& name : names) {
    ASSERT_TRUE(preset_toml(name).has_value()) << name;
    EXPECT_NO_THROW(resolve_preset(name)) << name;
  }
}

TEST(PresetTest, UnknownPresetListsTheKnownOnes) {
  try {
    preset_toml("x");
    FAIL() << "no error";
  } catch (const UsageError& error) {
    EXPECT_STREQ(error.what(),
                 "model.preset = \"x\": no such preset; expected one of fmnist-lc, "
                 "fmnist-lc-topo, fmnist-hypercolumn-topo, alltnn-small, pogodin-resnet20, "
                 "ott-cifar, mapformer-fmnist, "
                 "mapformer-cifar, "
                 "wlsc");
  }
  EXPECT_THROW(resolve_preset("x"), UsageError);
}

// The default has a cortical first sheet (one unit per point) behind the retina stage.
TEST(PresetTest, DefaultHasAHypercolumnFirstSheet) {
  EXPECT_EQ(Config().get_string("model.preset"), "fmnist-hypercolumn-topo");
  Model model = build_model(resolve_preset("fmnist-hypercolumn-topo"), InputShape{1, 28, 28}, 10);
  auto net = std::dynamic_pointer_cast<LcNetImpl>(model);
  ASSERT_NE(net, nullptr);
  EXPECT_EQ(net->sheets()[0].grids().sizes(), (std::vector<int64_t>{1, 112, 112}));
  EXPECT_EQ(net->options().retina_sigmas(), (std::vector<double>{1.0, 2.0}));
  const Config preset = resolve_preset("fmnist-hypercolumn-topo");
  EXPECT_EQ(preset.get_string_list("topography.layer_losses"),
            (std::vector<std::string>{"lateral_interaction", "kernel_smoothness"}));
  EXPECT_EQ(preset.get_string("topography.field"), "orientation");
}

// fmnist-lc-topo is fmnist-lc plus a topographic loss: the same model keys.
TEST(PresetTest, FmnistLcTopoIsFmnistLcWithALoss) {
  const Config topo = resolve_preset("fmnist-lc-topo");
  const Config plain = resolve_preset("fmnist-lc");
  EXPECT_EQ(topo.get_string("topography.loss"), "kernel_smoothness");
  for (const ConfigKeySpec& spec : config_schema()) {
    if (spec.key.rfind("model.", 0) != 0 || spec.key == "model.preset") continue;
    EXPECT_EQ(config_value_to_toml(topo.get(spec.key)), config_value_to_toml(plain.get(spec.key)))
        << spec.key;
  }
}

TEST(PresetTest, AllTnnSmallHasHypercolumnSheetsOnCifar) {
  Model model = build_model(resolve_preset("alltnn-small"), InputShape{3, 32, 32}, 10);
  auto net = std::dynamic_pointer_cast<LcNetImpl>(model);
  ASSERT_NE(net, nullptr);
  ASSERT_EQ(net->sheets().size(), 3u);
  EXPECT_EQ(net->sheets()[0].grids().sizes(), (std::vector<int64_t>{1, 64, 64}));
  EXPECT_EQ(net->sheets()[1].grids().sizes(), (std::vector<int64_t>{1, 48, 48}));
  EXPECT_EQ(net->sheets()[2].grids().sizes(), (std::vector<int64_t>{1, 64, 64}));
  EXPECT_LT(parameter_count(*model), 3'000'000);
}

TEST(PresetTest, FmnistLcIsSmallAndFitsFashionMnist) {
  Model model = build_model(resolve_preset("fmnist-lc"), InputShape{1, 28, 28}, 10);
  auto net = std::dynamic_pointer_cast<LcNetImpl>(model);
  ASSERT_NE(net, nullptr);
  EXPECT_EQ(net->layer_specs().back().output_height, 7);
  EXPECT_LT(parameter_count(*model), 2'000'000);
  EXPECT_EQ(model->forward(torch::randn({2, 1, 28, 28})).sizes(),
            (std::vector<int64_t>{2, 10}));
}

TEST(PresetTest, OttCifarHasThePublishedSizes) {
  Model unshared = build_model(resolve_preset("ott-cifar"), InputShape{3, 32, 32}, 10);
  EXPECT_EQ(parameter_count(*unshared), 50'040'714);
  Model twin = build_model(resolve_preset("ott-cifar", {"model.sharing=conv"}),
                           InputShape{3, 32, 32}, 10);
  EXPECT_EQ(parameter_count(*twin), 17'294'346);
  auto net = std::dynamic_pointer_cast<LcNetImpl>(unshared);
  ASSERT_NE(net, nullptr);
  std::vector<int64_t> sheets;
  for (const auto& spec : net->layer_specs()) sheets.push_back(spec.output_height);
  EXPECT_EQ(sheets, (std::vector<int64_t>{16, 8, 8}));
}

// mapformer-cifar (issue 7): 4×4 patches on 32×32 → an 8×8 grid, D = 128, 6 blocks.
// Parameters: embedding 64·(48·128 + 128), per block query 64·128 + bias 64², MLP
// 64·(16·128 + 16) + 64·(128·16 + 128), head 10·(64 + 128 + 1).
TEST(PresetTest, MapformerCifarIsAnEightByEightGridOfColumns) {
  Model model = build_model(resolve_preset("mapformer-cifar"), InputShape{3, 32, 32}, 10);
  auto net = std::dynamic_pointer_cast<MapformerImpl>(model);
  ASSERT_NE(net, nullptr);
  EXPECT_EQ(net->grid_height(), 8);
  EXPECT_EQ(net->grid_width(), 8);
  EXPECT_EQ(net->blocks().size(), 6u);
  EXPECT_EQ(net->options().dim(), 128);
  EXPECT_EQ(net->blocks()[0]->mlp->hidden(), 16);
  EXPECT_EQ(parameter_count(*model), 401'408 + 6 * (12'288 + 271'360) + 1'930);
  EXPECT_EQ(model->forward(torch::randn({2, 3, 32, 32})).sizes(),
            (std::vector<int64_t>{2, 10}));
  Model fmnist = build_model(resolve_preset("mapformer-fmnist"), InputShape{1, 28, 28}, 10);
  auto small = std::dynamic_pointer_cast<MapformerImpl>(fmnist);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(small->grid_height(), 7);
  EXPECT_EQ(parameter_count(*fmnist), 291'416);
}

}  // namespace registry_test
}  // namespace nosharing
