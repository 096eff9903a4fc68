#include "nosharing/models/resnet.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "nosharing/core/config.h"
#include "nosharing/core/error.h"
#include "nosharing/sharing/dynamic_sharing.h"
#include "nosharing/sharing/weight_snr.h"

namespace nosharing {
namespace resnet_test {  // named, not anonymous: the tests compile in unity batches

// ResNet-20's shape: 19 conv-shaped layers plus the two projection shortcuts (stages 2 and
// 3), logits per class; the twin has the same names and the conv parameter count of a
// CIFAR ResNet-20 with projection shortcuts.
TEST(ResNetTest, ResNet20LayersShapesAndParameterCounts) {
  const ResNetOptions options(InputShape{3, 32, 32}, 10);
  ResNet net(options);
  ResNet twin(ResNetOptions(options).sharing(LcNetSharing::kConv));
  const auto layers = net->unshared_layers();
  ASSERT_EQ(layers.size(), 21u);
  EXPECT_EQ(layers.front().first, "conv1");
  EXPECT_EQ(layers[3].first, "s1b2_conv1");
  EXPECT_EQ(layers[7].first, "s2b1_conv1");
  EXPECT_EQ(layers[9].first, "s2b1_shortcut");
  EXPECT_EQ(layers.back().first, "s3b3_conv2");
  EXPECT_TRUE(net->conv_layers().empty());
  ASSERT_EQ(twin->conv_layers().size(), 21u);
  EXPECT_TRUE(twin->unshared_layers().empty());
  // Output sides 32, 16, 8: the last unshared layer has 8·8 positions of 64 × 64·9 weights.
  EXPECT_EQ(layers.back().second->weight.sizes(), (std::vector<int64_t>{64, 64, 576}));
  EXPECT_EQ(layers[9].second->weight.sizes(), (std::vector<int64_t>{256, 32, 16}));
  int64_t conv_weights = 0;
  for (const auto& [name, conv] : twin->conv_layers()) conv_weights += conv->weight.numel();
  // 3·16·9 + 6·16·16·9 + (16·32·9 + 5·32·32·9 + 16·32) + (32·64·9 + 5·64·64·9 + 32·64).
  EXPECT_EQ(conv_weights, 432 + 13824 + (4608 + 46080 + 512) + (18432 + 184320 + 2048));
  net->eval();
  EXPECT_EQ(net->forward(torch::randn({2, 3, 32, 32})).sizes(), (std::vector<int64_t>{2, 10}));
}

// The invariance a twin is for: every unshared layer tied to its twin's kernel (and the
// BatchNorms and the head copied) computes the twin's function, in training and eval mode.
TEST(ResNetTest, TiedUnsharedNetEqualsItsTwin) {
  torch::manual_seed(5);
  const auto options = ResNetOptions(InputShape{2, 12, 12}, 4).widths({4, 6}).blocks(2);
  ResNet net(options);
  ResNet twin(ResNetOptions(options).sharing(LcNetSharing::kConv));
  const torch::Tensor images = torch::randn({5, 2, 12, 12});
  net->eval();
  twin->eval();
  ASSERT_FALSE(torch::allclose(net->forward(images), twin->forward(images), 1e-4, 1e-5));
  tie_to_twin(*net, *twin);
  EXPECT_TRUE(torch::allclose(net->forward(images), twin->forward(images), 1e-4, 1e-5));
  net->train();
  twin->train();
  EXPECT_TRUE(torch::allclose(net->forward(images), twin->forward(images), 1e-4, 1e-5));
}

// The sleep phase works on any model's unshared layers: instant sharing over all positions
// leaves every layer of the ResNet with one kernel (weight SNR at its 1e12 cap).
TEST(ResNetTest, InstantSharingMakesEveryLayerShared) {
  torch::manual_seed(6);
  ResNet net(ResNetOptions(InputShape{1, 8, 8}, 3).widths({2, 3}).blocks(1));
  const Config config = Config::resolve(
      std::nullopt, {"sharing.mode=instant", "sharing.classes=all", "sharing.every=1"},
      preset_toml);
  const auto records = run_sleep_phase(*net, SharingOptions::from_config(config), 0, 1);
  ASSERT_EQ(records.size(), net->unshared_layers().size());
  for (const auto& [name, snr] : layer_weight_snrs(*net)) {
    EXPECT_GE(snr.squared, 1e11) << name;
  }
}

TEST(ResNetTest, ConfigBuildsThePresetAndNamesBadKeys) {
  const Config config =
      Config::resolve(std::nullopt, {"model.preset=pogodin-resnet20"}, preset_toml);
  Model model = build_model(config, InputShape{3, 32, 32}, 10);
  EXPECT_EQ(model->unshared_layers().size(), 21u);
  const Config bad = Config::resolve(
      std::nullopt, {"model.preset=pogodin-resnet20", "model.blocks=0"}, preset_toml);
  try {
    build_model(bad, InputShape{3, 32, 32}, 10);
    FAIL() << "expected a UsageError";
  } catch (const UsageError& error) {
    EXPECT_EQ(std::string(error.what()), "model.blocks = 0: expected >= 1");
  }
}

}  // namespace resnet_test
}  // namespace nosharing
