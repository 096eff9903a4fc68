#include "nosharing/topography/topographic_loss.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "nosharing/core/error.h"

namespace nosharing {
namespace topographic_loss_test {  // named, not anonymous: the tests compile in unity batches

TEST(TopographicLossTest, NamesRoundTripAndTheFactoryBuildsEachLoss) {
  for (const char* name :
       {"infonce", "kernel_smoothness", "spatial_correlation", "topoloss", "wiring"}) {
    const TopographicLossKind kind = parse_topographic_loss(name);
    EXPECT_EQ(topographic_loss_name(kind), name);
    EXPECT_NE(make_topographic_loss(TopographicLossOptions(kind)), nullptr) << name;
    EXPECT_GT(default_topographic_weight(kind), 0.0) << name;
  }
  EXPECT_EQ(make_topographic_loss(TopographicLossOptions(TopographicLossKind::kNone)), nullptr);
  EXPECT_TRUE(make_topographic_loss(TopographicLossOptions(TopographicLossKind::kInfoNce))
                  ->needs_responses());
  EXPECT_FALSE(make_topographic_loss(TopographicLossOptions(TopographicLossKind::kWiring))
                   ->needs_responses());
  EXPECT_THROW(parse_topographic_loss("smooth"), UsageError);
}

TEST(TopographicLossTest, FromConfigNamesTheBadKey) {
  Config config;
  config.apply_set("topography.loss=infonce");
  config.apply_set("topography.anchors=64");
  EXPECT_EQ(TopographicLossOptions::from_config(config).infonce().anchors(), 64);
  config.apply_set("topography.anchors=0");
  try {
    TopographicLossOptions::from_config(config);
    FAIL() << "no exception";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("topography.anchors = 0"), std::string::npos)
        << error.what();
  }
}

TEST(TopographicLossTest, UnitWeightVectorsFollowTheSheetOrder) {
  // weight [P = 2, C = 3, D = 1] with value 10·p + c; unit u = c·P + p.
  const torch::Tensor weight = torch::tensor({0.0, 1.0, 2.0, 10.0, 11.0, 12.0}).view({2, 3, 1});
  const torch::Tensor bias = weight.squeeze(2) + 100;
  const torch::Tensor v = unit_weight_vectors(weight, bias);
  EXPECT_TRUE(torch::equal(v.select(1, 0), torch::tensor({0.0, 10.0, 1.0, 11.0, 2.0, 12.0})));
  EXPECT_TRUE(torch::equal(v.select(1, 1), torch::tensor({100.0, 110.0, 101.0, 111.0, 102.0, 112.0})));
}

}  // namespace topographic_loss_test
}  // namespace nosharing
