#include "nosharing/models/lcnet.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <string>

#include "nosharing/core/error.h"
#include "nosharing/core/parameter_count.h"

namespace nosharing {
namespace lcnet_test {  // named, not anonymous: the tests compile in unity batches

using ::testing::HasSubstr;
using Counts = std::vector<std::pair<std::string, int64_t>>;

// The ott-cifar shapes (DESIGN §2), spelled out rather than read from the preset so that the
// preset is checked against them in registry_test.cc.
LcNetOptions ott_cifar(LcNetSharing sharing) {
  return LcNetOptions(InputShape{3, 32, 32}, 10, {64, 128, 256})
      .kernels({5, 5, 3})
      .strides({2, 2, 1})
      .paddings({2, 2, 1})
      .hidden({1024})
      .sharing(sharing);
}

std::string usage_message(const std::function<void()>& body) {
  try {
    body();
  } catch (const UsageError& error) {
    return error.what();
  }
  return "(no UsageError thrown)";
}

TEST(LcNetTest, OttCifarParameterCountsUnshared) {
  // Positions × C_out × C_in·k·k weights plus positions × C_out biases.
  const int64_t lc1 = 16 * 16 * 64 * (3 * 5 * 5) + 16 * 16 * 64;
  const int64_t lc2 = 8 * 8 * 128 * (64 * 5 * 5) + 8 * 8 * 128;
  const int64_t lc3 = 8 * 8 * 256 * (128 * 3 * 3) + 8 * 8 * 256;
  EXPECT_EQ(lc1, 1'245'184);
  EXPECT_EQ(lc2, 13'115'392);
  EXPECT_EQ(lc3, 18'890'752);
  const int64_t fc1 = (256 * 8 * 8) * 1024 + 1024;
  const int64_t classifier = 1024 * 10 + 10;

  LcNet net(ott_cifar(LcNetSharing::kNone));
  const Counts expected = {{"lc1", lc1},      {"lc1_norm", 2 * 64},  {"lc2", lc2},
                           {"lc2_norm", 2 * 128}, {"lc3", lc3},      {"lc3_norm", 2 * 256},
                           {"fc1", fc1},      {"classifier", classifier}};
  EXPECT_EQ(parameter_counts(*net), expected);
  EXPECT_EQ(parameter_count(*net), 50'040'714);  // ≈ 50 M
}

TEST(LcNetTest, OttCifarParameterCountsTwin) {
  const int64_t conv1 = 64 * 3 * 5 * 5 + 64;
  const int64_t conv2 = 128 * 64 * 5 * 5 + 128;
  const int64_t conv3 = 256 * 128 * 3 * 3 + 256;
  LcNet twin(ott_cifar(LcNetSharing::kConv));
  const Counts expected = {{"lc1", conv1},    {"lc1_norm", 2 * 64},  {"lc2", conv2},
                           {"lc2_norm", 2 * 128}, {"lc3", conv3},    {"lc3_norm", 2 * 256},
                           {"fc1", (256 * 8 * 8) * 1024 + 1024},
                           {"classifier", 1024 * 10 + 10}};
  EXPECT_EQ(parameter_counts(*twin), expected);
  EXPECT_EQ(parameter_count(*twin), 17'294'346);  // ≈ 17.3 M
}

TEST(LcNetTest, OttCifarSheets) {
  LcNet net(ott_cifar(LcNetSharing::kNone));
  const auto& specs = net->layer_specs();
  ASSERT_EQ(specs.size(), 3u);
  EXPECT_EQ(specs[0].output_height, 16);
  EXPECT_EQ(specs[1].output_height, 8);
  EXPECT_EQ(specs[2].output_width, 8);
  EXPECT_EQ(specs[2].in_channels, 128);
  const auto layers = net->unshared_layers();
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[1].first, "lc2");
  EXPECT_EQ(layers[1].second->positions(), 64);
  EXPECT_TRUE(net->conv_layers().empty());
}

struct ShapeCase {
  LcNetSharing sharing;
  LcNetNorm norm;
  std::vector<int64_t> hidden;
  double dropout;
};

class LcNetShapeTest : public ::testing::TestWithParam<ShapeCase> {};

TEST_P(LcNetShapeTest, ForwardGivesLogitsAndBackwardReachesEveryParameter) {
  const ShapeCase c = GetParam();
  LcNet net(LcNetOptions(InputShape{1, 28, 20}, 7, {4, 6})
                .kernels({5, 3})
                .strides({2})
                .sharing(c.sharing)
                .norm(c.norm)
                .hidden(c.hidden)
                .dropout(c.dropout));
  const auto logits = net->forward(torch::randn({5, 1, 28, 20}));
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{5, 7}));
  logits.sum().backward();
  for (const auto& parameter : net->named_parameters()) {
    EXPECT_TRUE(parameter.value().grad().defined()) << parameter.key();
  }
  net->eval();
  EXPECT_EQ(net->forward(torch::randn({1, 1, 28, 20})).sizes(), (std::vector<int64_t>{1, 7}));
}

INSTANTIATE_TEST_SUITE_P(
    LcNet, LcNetShapeTest,
    ::testing::Values(ShapeCase{LcNetSharing::kNone, LcNetNorm::kBatch, {}, 0.0},
                      ShapeCase{LcNetSharing::kNone, LcNetNorm::kBatchPosition, {16}, 0.5},
                      ShapeCase{LcNetSharing::kNone, LcNetNorm::kNone, {16, 8}, 0.0},
                      ShapeCase{LcNetSharing::kConv, LcNetNorm::kBatch, {16}, 0.2},
                      ShapeCase{LcNetSharing::kConv, LcNetNorm::kBatchPosition, {}, 0.0},
                      ShapeCase{LcNetSharing::kConv, LcNetNorm::kNone, {}, 0.0}));

TEST(LcNetTest, TwinUsesConv2dUnderTheSameNames) {
  LcNet twin(LcNetOptions(InputShape{1, 28, 28}, 10, {8, 16}).sharing(LcNetSharing::kConv));
  EXPECT_TRUE(twin->unshared_layers().empty());
  ASSERT_EQ(twin->conv_layers().size(), 2u);
  const auto children = twin->named_children();
  EXPECT_NE(children["lc1"]->as<torch::nn::Conv2d>(), nullptr);
  EXPECT_NE(children["lc2"]->as<torch::nn::Conv2d>(), nullptr);
  EXPECT_NE(children["lc1_norm"]->as<torch::nn::BatchNorm2d>(), nullptr);

  LcNet net(LcNetOptions(InputShape{1, 28, 28}, 10, {8, 16}));
  EXPECT_NE(net->named_children()["lc1"]->as<LocallyConnected2d>(), nullptr);
  std::vector<std::string> names;
  for (const auto& child : net->named_children()) names.push_back(child.key());
  EXPECT_EQ(names, (std::vector<std::string>{"lc1", "lc1_norm", "lc2", "lc2_norm", "classifier"}));
}

TEST(LcNetTest, BatchPositionNormIsPerChannelAndPosition) {
  LcNet net(LcNetOptions(InputShape{1, 8, 8}, 3, {4}).strides({2}).norm(LcNetNorm::kBatchPosition));
  auto norm = net->named_children()["lc1_norm"]->as<torch::nn::BatchNorm1d>();
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->weight.numel(), 4 * 4 * 4);
}

// An unshared net whose positions all hold the twin's kernels computes the twin, in training
// (batch statistics) and in eval mode.
class LcNetTiedTest : public ::testing::TestWithParam<LcNetNorm> {};

TEST_P(LcNetTiedTest, TiedUnsharedNetEqualsItsTwin) {
  torch::manual_seed(4);
  const auto options = LcNetOptions(InputShape{2, 12, 10}, 5, {3, 4})
                           .kernels({3, 5})
                           .strides({1, 2})
                           .hidden({6})
                           .norm(GetParam());
  LcNet twin(LcNetOptions(options).sharing(LcNetSharing::kConv));
  LcNet net(LcNetOptions(options).sharing(LcNetSharing::kNone));
  const auto images = torch::randn({6, 2, 12, 10});
  // Untied they differ (checked in eval mode, which leaves the running statistics alone).
  net->eval();
  twin->eval();
  ASSERT_FALSE(torch::allclose(net->forward(images), twin->forward(images), 1e-4, 1e-5));
  net->train();
  twin->train();
  tie_to_twin(*net, *twin);
  EXPECT_TRUE(torch::allclose(net->forward(images), twin->forward(images), 1e-4, 1e-5));
  net->eval();
  twin->eval();
  EXPECT_TRUE(torch::allclose(net->forward(images), twin->forward(images), 1e-4, 1e-5));
  EXPECT_THROW(tie_to_twin(*twin, *twin), c10::Error);
  EXPECT_THROW(tie_to_twin(*net, *net), c10::Error);
}

INSTANTIATE_TEST_SUITE_P(LcNet, LcNetTiedTest,
                         ::testing::Values(LcNetNorm::kBatch, LcNetNorm::kBatchPosition,
                                           LcNetNorm::kNone));

TEST(LcNetTest, BadShapesAreUsageErrorsNamingKeyAndValue) {
  const InputShape mnist{1, 28, 28};
  EXPECT_EQ(usage_message([&] { LcNet(LcNetOptions(mnist, 10, {8, 8}).kernels({5, 40}).strides({2}).paddings({0})); }),
            "model.kernels = [5, 40]: layer lc2 kernel 40 is larger than its padded input 12×12");
  EXPECT_EQ(usage_message([&] { LcNet(LcNetOptions(mnist, 10, {8, 8}).strides({2, 0})); }),
            "model.strides = [2, 0]: layer lc2 stride 0; expected >= 1");
  EXPECT_EQ(usage_message([&] { LcNet(LcNetOptions(mnist, 10, {8, 8}).strides({0})); }),
            "model.strides = [0]: layer lc1 stride 0; expected >= 1");
  EXPECT_THAT(usage_message([&] { LcNet(LcNetOptions(mnist, 10, {8, 8}).kernels({5, 3, 3})); }),
              HasSubstr("model.kernels = [5, 3, 3]: 3 values for 2 layers"));
  EXPECT_THAT(usage_message([&] { LcNet(LcNetOptions(mnist, 10, {8, 8}).paddings({1, 1, 1})); }),
              HasSubstr("model.paddings = [1, 1, 1]: 3 values for 2 layers"));
  EXPECT_THAT(usage_message([&] { LcNet(LcNetOptions(mnist, 10, {})); }),
              HasSubstr("model.channels = []"));
  EXPECT_THAT(usage_message([&] { LcNet(LcNetOptions(mnist, 10, {8, 0})); }),
              HasSubstr("model.channels = [8, 0]: layer lc2 has 0 channels"));
  EXPECT_THAT(usage_message([&] { LcNet(LcNetOptions(mnist, 10, {8}).kernels({})); }),
              HasSubstr("model.kernels = []"));
  EXPECT_THAT(usage_message([&] { LcNet(LcNetOptions(mnist, 10, {8}).kernels({0})); }),
              HasSubstr("model.kernels = [0]: layer lc1 kernel 0"));
  EXPECT_THAT(usage_message([&] { LcNet(LcNetOptions(mnist, 10, {8}).paddings({-1})); }),
              HasSubstr("model.paddings = [-1]: layer lc1 padding -1"));
  EXPECT_THAT(usage_message([&] { LcNet(LcNetOptions(mnist, 10, {8}).hidden({16, 0})); }),
              HasSubstr("model.hidden = [16, 0]: layer fc2 width 0"));
  EXPECT_THAT(usage_message([&] { LcNet(LcNetOptions(mnist, 10, {8}).dropout(1.0)); }),
              HasSubstr("model.dropout = 1"));
}

TEST(LcNetTest, WrongImageShapeIsNamedForTheTwinToo) {
  LcNet twin(LcNetOptions(InputShape{1, 28, 28}, 10, {8}).sharing(LcNetSharing::kConv));
  try {
    twin->forward(torch::randn({2, 3, 32, 32}));
    FAIL() << "no error";
  } catch (const c10::Error& error) {
    EXPECT_THAT(error.what_without_backtrace(),
                HasSubstr("expected images [B, 1, 28, 28], got [2, 3, 32, 32]"));
  }
}

TEST(LcNetTest, OptionsFromConfig) {
  Config config;
  config.apply_set("model.sharing=conv");
  config.apply_set("model.norm=batch_position");
  config.apply_set("model.channels=[4, 5, 6]");
  config.apply_set("model.kernels=[3]");
  config.apply_set("model.strides=[2, 1, 2]");
  config.apply_set("model.hidden=[32]");
  config.apply_set("model.dropout=0.25");
  const auto options = LcNetOptions::from_config(config, InputShape{3, 16, 16}, 4);
  EXPECT_EQ(options.sharing(), LcNetSharing::kConv);
  EXPECT_EQ(options.norm(), LcNetNorm::kBatchPosition);
  EXPECT_EQ(options.channels(), (std::vector<int64_t>{4, 5, 6}));
  EXPECT_EQ(options.kernels(), (std::vector<int64_t>{3}));
  EXPECT_EQ(options.hidden(), (std::vector<int64_t>{32}));
  EXPECT_DOUBLE_EQ(options.dropout(), 0.25);
  EXPECT_EQ(options.num_classes(), 4);
  const auto specs = lcnet_layer_specs(options);
  ASSERT_EQ(specs.size(), 3u);
  EXPECT_EQ(specs[2].padding, 1);  // empty paddings: kernel // 2
  EXPECT_EQ(specs[2].output_height, 4);  // 16 → 8 → 8 → 4
}

TEST(LcNetTest, RetinaIsAFixedCentreSurroundStage) {
  const torch::Tensor dog = difference_of_gaussians(1.0, 2.0);
  EXPECT_EQ(dog.sizes(), (std::vector<int64_t>{13, 13}));  // r = ⌈3·2⌉
  EXPECT_NEAR(dog.sum().item<double>(), 0.0, 1e-6);
  EXPECT_GT(dog[6][6].item<double>(), 0.0);  // on-centre
  EXPECT_LT(dog[6][9].item<double>(), 0.0);  // off-surround

  torch::manual_seed(3);
  LcNet net(LcNetOptions(InputShape{2, 10, 10}, 3, {4}).kernels({3}).retina_sigmas({1.0, 2.0}));
  // A buffer, not a parameter: nothing learns it, checkpoints keep it.
  for (const auto& p : net->named_parameters()) EXPECT_EQ(p.key().find("retina"), std::string::npos);
  EXPECT_EQ(net->named_buffers().contains("retina_kernel"), true);
  // Uniform images give 0 everywhere (replicated borders), per channel.
  const torch::Tensor flat = torch::full({1, 2, 10, 10}, 3.0);
  EXPECT_LT(net->retina(flat).abs().max().item<double>(), 1e-5);
  // Each channel is filtered on its own: the reference is a per-channel conv2d.
  const torch::Tensor images = torch::randn({2, 2, 10, 10});
  const torch::Tensor padded = torch::replication_pad2d(images, {6, 6, 6, 6});
  for (int64_t c = 0; c < 2; ++c) {
    const torch::Tensor expected =
        torch::conv2d(padded.slice(1, c, c + 1), dog.view({1, 1, 13, 13}));
    EXPECT_TRUE(torch::allclose(net->retina(images).slice(1, c, c + 1), expected, 1e-5, 1e-5));
  }

  Config config;
  config.apply_set("model.channels=[4]");
  config.apply_set("model.retina=dog");
  EXPECT_EQ(LcNetOptions::from_config(config, InputShape{1, 8, 8}, 2).retina_sigmas(),
            (std::vector<double>{1.0, 2.0}));
  config.apply_set("model.retina_sigmas=[2.0, 1.0]");
  EXPECT_THROW(LcNetOptions::from_config(config, InputShape{1, 8, 8}, 2), UsageError);
}

TEST(LcNetTest, SheetsFollowTheLayoutAndRecordedResponsesTheLayers) {
  LcNet net(LcNetOptions(InputShape{1, 8, 8}, 3, {4, 9})
                .kernels({3})
                .strides({2, 1})
                .layout(SheetLayout::kHypercolumn));
  ASSERT_EQ(net->sheets().size(), 2u);
  EXPECT_EQ(net->sheets()[0].num_units(), 4 * 4 * 4);
  EXPECT_EQ(net->sheets()[1].grids().sizes(), (std::vector<int64_t>{1, 12, 12}));
  net->forward(torch::randn({2, 1, 8, 8}));
  EXPECT_TRUE(net->recorded_responses().empty());  // off by default
  net->record_responses(true);
  net->forward(torch::randn({2, 1, 8, 8}));
  ASSERT_EQ(net->recorded_responses().size(), 2u);
  EXPECT_EQ(net->recorded_responses()[1].sizes(), (std::vector<int64_t>{2, 9, 4, 4}));
  EXPECT_GE(net->recorded_responses()[1].min().item<double>(), 0.0);  // after the ReLU
}

TEST(LcNetTest, HypercolumnLayoutNeedsSquareChannelCounts) {
  EXPECT_THAT(usage_message([] {
                LcNet(LcNetOptions(InputShape{1, 8, 8}, 3, {16, 32}).layout(SheetLayout::kHypercolumn));
              }),
              HasSubstr("layer lc2: model.layout = \"hypercolumn\": 32 channels"));
}

}  // namespace lcnet_test
}  // namespace nosharing
