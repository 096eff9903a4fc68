#include "nosharing/train/topographic_objective.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <tuple>

#include "nosharing/core/error.h"
#include "nosharing/models/lcnet.h"
#include "nosharing/topography/kernel_smoothness.h"

namespace nosharing {
namespace topographic_objective_test {  // named, not anonymous: the tests compile in unity batches

Config config_with(const std::vector<std::string>& sets) {
  Config config;
  for (const auto& set : sets) config.apply_set(set);
  return config;
}

LcNet small_net(LcNetSharing sharing) {
  return LcNet(LcNetOptions(InputShape{1, 8, 8}, 3, {4, 4}).kernels({3}).strides({2, 1}).sharing(
      sharing));
}

TEST(TopographicObjectiveTest, NoneBuildsNothing) {
  LcNet net = small_net(LcNetSharing::kNone);
  EXPECT_EQ(TopographicObjective::from_config(Config(), *net), nullptr);
}

TEST(TopographicObjectiveTest, SumsWeightedLayerLossesWithPerLayerOverrides) {
  torch::manual_seed(0);
  LcNet net = small_net(LcNetSharing::kNone);
  auto objective = TopographicObjective::from_config(
      config_with({"topography.loss=kernel_smoothness", "topography.layer_weights=[2.0, 0.5]"}),
      *net);
  ASSERT_NE(objective, nullptr);
  // Kernel smoothness on unshared layers adds its gradient in place: nothing in the graph.
  std::vector<TopographicTermValue> terms;
  EXPECT_EQ(objective->compute(&terms).item<double>(), 0.0);
  EXPECT_TRUE(terms.empty());
  const double total = objective->add_weight_gradients(&terms);
  ASSERT_EQ(terms.size(), 2u);
  double expected = 0;
  const auto unshared = net->unshared_layers();
  for (size_t i = 0; i < 2; ++i) {
    TopographicLayer layer{unshared[i].first, net->sheets()[i]};
    layer.weight = unshared[i].second->weight;
    layer.bias = unshared[i].second->bias;
    const double value = KernelSmoothnessLoss()->forward(layer).item<double>();
    EXPECT_EQ(terms[i].layer, unshared[i].first);
    EXPECT_NEAR(terms[i].value.item<double>(), value, 1e-7);
    expected += (i == 0 ? 2.0 : 0.5) * value;
  }
  EXPECT_NEAR(total, expected, 1e-6);
  EXPECT_GT(unshared[0].second->weight.grad().abs().sum().item<double>(), 0.0);
}

// The training step's path for the losses of the weights alone (compute, backward,
// add_weight_gradients) against autograd through each loss's forward: the same parameter
// gradients, beside a task loss and where no backward left a gradient, and the same values.
TEST(TopographicObjectiveTest, InPlaceGradientsEqualAutogradThroughTheLoss) {
  for (const std::string loss : {"kernel_smoothness", "topoloss", "wiring"}) {
    SCOPED_TRACE(loss);
    const Config config = config_with({"topography.loss=" + loss,
                                       "topography.layer_weights=[2.0, 0.5]"});
    torch::manual_seed(3);
    LcNet in_place = small_net(LcNetSharing::kNone);
    torch::manual_seed(3);
    LcNet through_autograd = small_net(LcNetSharing::kNone);
    in_place->to(torch::kFloat64);
    through_autograd->to(torch::kFloat64);
    const torch::Tensor images = torch::randn({4, 1, 8, 8}, torch::kFloat64);
    const TopographicLoss reference =
        make_topographic_loss(TopographicLossOptions::from_config(config));
    for (const bool with_task : {true, false}) {
      SCOPED_TRACE(with_task ? "beside a task loss" : "the loss alone");
      for (auto& p : in_place->parameters()) p.mutable_grad() = torch::Tensor();
      for (auto& p : through_autograd->parameters()) p.mutable_grad() = torch::Tensor();
      auto objective = TopographicObjective::from_config(config, *in_place);
      ASSERT_TRUE(objective->adds_in_place(0) && objective->adds_in_place(1));
      if (with_task) {
        (in_place->forward(images).square().mean() + objective->compute()).backward();
      }
      std::vector<TopographicTermValue> terms;
      const double value = objective->add_weight_gradients(&terms);

      torch::Tensor expected = with_task
                                   ? through_autograd->forward(images).square().mean()
                                   : torch::zeros({}, torch::kFloat64);
      for (size_t i = 0; i < 2; ++i) {
        const torch::Tensor term =
            reference->forward(through_autograd->topographic_layer(i, false));
        EXPECT_NEAR(terms[i].value.item<double>(), term.item<double>(), 1e-12);
        expected = expected + (i == 0 ? 2.0 : 0.5) * term;
      }
      if (!with_task) EXPECT_NEAR(value, expected.item<double>(), 1e-12);
      expected.backward();
      const auto got = in_place->named_parameters();
      const auto want = through_autograd->named_parameters();
      for (const auto& item : want) {
        const torch::Tensor& g = got[item.key()].grad();
        if (!item.value().grad().defined()) continue;  // neither path reached it
        ASSERT_TRUE(g.defined()) << item.key();
        EXPECT_TRUE(torch::allclose(g, item.value().grad(), 1e-10, 1e-12)) << item.key();
      }
    }
  }
}

// The response losses send their gradient through the network's response taps
// (layers/response_tap.h): the same parameter gradients as through autograd (the loss's
// dense response gradient summed with the task's), on the unshared network (responses with
// the batch innermost) and on the twin (NCHW).
TEST(TopographicObjectiveTest, ResponseLossGradientsThroughTheTapEqualAutograd) {
  for (const std::string loss : {"spatial_correlation", "infonce"}) {
    for (const LcNetSharing sharing : {LcNetSharing::kNone, LcNetSharing::kConv}) {
      SCOPED_TRACE(loss + (sharing == LcNetSharing::kNone ? " unshared" : " twin"));
      const Config config =
          config_with({"topography.loss=" + loss, "topography.layer_weights=[2.0, 0.5]",
                       "topography.anchors=12", "topography.negatives=20",
                       "topography.units=20"});
      torch::manual_seed(5);
      LcNet tapped = small_net(sharing);
      torch::manual_seed(5);
      LcNet through_autograd = small_net(sharing);
      tapped->to(torch::kFloat64);
      through_autograd->to(torch::kFloat64);
      const torch::Tensor images = torch::randn({6, 1, 8, 8}, torch::kFloat64);

      auto objective = TopographicObjective::from_config(config, *tapped);
      const torch::Tensor task = tapped->forward(images).square().mean();
      ASSERT_NE(tapped->recorded_sinks().at(0), nullptr);
      torch::manual_seed(11);  // the losses' samples
      const torch::Tensor topographic = objective->compute();
      const auto sinks = tapped->recorded_sinks();
      (task + topographic).backward();
      // The first layer's tap added into the task's gradient itself, not into a copy. (The
      // last layer's gradient arrives through flatten's view, whose base LibTorch still holds
      // then: it goes into a copy.)
      EXPECT_EQ(sinks.at(0)->copies(), 0);
      EXPECT_EQ(sinks.at(1)->copies(), 1);

      through_autograd->record_responses(true);
      torch::Tensor expected = through_autograd->forward(images).square().mean();
      const TopographicLoss reference =
          make_topographic_loss(TopographicLossOptions::from_config(config));
      torch::manual_seed(11);
      torch::Tensor reference_topographic = torch::zeros({}, torch::kFloat64);
      for (size_t i = 0; i < 2; ++i) {
        TopographicLayer layer = through_autograd->topographic_layer(i, true);
        layer.response_sink = nullptr;  // the loss's gradient back through autograd
        reference_topographic =
            reference_topographic + (i == 0 ? 2.0 : 0.5) * reference->forward(layer);
      }
      EXPECT_NEAR(topographic.item<double>(), reference_topographic.item<double>(), 1e-12);
      (expected + reference_topographic).backward();
      const auto got = tapped->named_parameters();
      for (const auto& item : through_autograd->named_parameters()) {
        ASSERT_TRUE(item.value().grad().defined()) << item.key();
        EXPECT_TRUE(torch::allclose(got[item.key()].grad(), item.value().grad(), 1e-10, 1e-12))
            << item.key();
      }
    }
  }
}

TEST(TopographicObjectiveTest, DefaultWeightIsThePapersAndZeroSkipsALayer) {
  LcNet net = small_net(LcNetSharing::kNone);
  auto objective = TopographicObjective::from_config(
      config_with({"topography.loss=spatial_correlation", "topography.layer_weights=[0, 1]"}),
      *net);
  EXPECT_EQ(objective->layer_weights(), (std::vector<std::pair<std::string, double>>{{"lc2", 1.0}}));
  auto defaults =
      TopographicObjective::from_config(config_with({"topography.loss=spatial_correlation"}), *net);
  EXPECT_EQ(defaults->layer_weights().front().second, 0.25);
}

TEST(TopographicObjectiveTest, ResponseLossesRecordTheForwardAndWorkOnTheTwin) {
  torch::manual_seed(1);
  for (LcNetSharing sharing : {LcNetSharing::kNone, LcNetSharing::kConv}) {
    LcNet net = small_net(sharing);
    auto objective = TopographicObjective::from_config(
        config_with({"topography.loss=infonce", "topography.anchors=16"}), *net);
    net->forward(torch::randn({4, 1, 8, 8}));
    std::vector<TopographicTermValue> terms;
    const double value = objective->compute(&terms).item<double>();
    EXPECT_TRUE(std::isfinite(value));
    EXPECT_EQ(terms.size(), 2u);
  }
  // Weight losses on the twin: one kernel everywhere is perfectly smooth.
  LcNet twin = small_net(LcNetSharing::kConv);
  auto smooth = TopographicObjective::from_config(
      config_with({"topography.loss=kernel_smoothness"}), *twin);
  EXPECT_NEAR(smooth->compute().item<double>(), 0.0, 1e-5);
}

// topography.every = n: due on steps 0, n, 2n, …, where both roads (through autograd and in
// place) weigh each layer n times, and the terms stay unweighted.
TEST(TopographicObjectiveTest, EveryNthStepWeighsTheLossesNTimes) {
  torch::manual_seed(2);
  LcNet net = small_net(LcNetSharing::kNone);
  const std::vector<std::string> keys = {
      "topography.layer_losses=[\"lateral_interaction\", \"kernel_smoothness\"]",
      "topography.spacing=3.0"};
  auto once = TopographicObjective::from_config(config_with(keys), *net);
  std::vector<std::string> every_keys = keys;
  every_keys.push_back("topography.every=3");
  auto lazy = TopographicObjective::from_config(config_with(every_keys), *net);
  EXPECT_EQ(once->every(), 1);
  EXPECT_EQ(lazy->every(), 3);
  for (int64_t step : {0, 1, 2, 3, 4, 6}) EXPECT_EQ(lazy->due(step), step % 3 == 0) << step;
  EXPECT_TRUE(once->due(1));

  std::vector<TopographicTermValue> once_terms;
  std::vector<TopographicTermValue> lazy_terms;
  const double once_graph = once->compute(&once_terms).item<double>();
  const double lazy_graph = lazy->compute(&lazy_terms).item<double>();
  EXPECT_NEAR(lazy_graph, 3 * once_graph, 1e-5 * std::abs(once_graph));
  ASSERT_EQ(lazy_terms.size(), 1u);
  EXPECT_DOUBLE_EQ(lazy_terms[0].value.item<double>(), once_terms[0].value.item<double>());

  const LocallyConnected2d lc2 = net->unshared_layers()[1].second;
  const double once_in_place = once->add_weight_gradients();
  const torch::Tensor once_gradient = lc2->weight.grad().clone();
  lc2->weight.mutable_grad().zero_();
  const double lazy_in_place = lazy->add_weight_gradients();
  EXPECT_NEAR(lazy_in_place, 3 * once_in_place, 1e-9);
  EXPECT_TRUE(torch::allclose(lc2->weight.grad(), 3 * once_gradient, 1e-5, 1e-8));

  std::vector<std::string> zero_keys = keys;
  zero_keys.push_back("topography.every=0");
  try {
    TopographicObjective::from_config(config_with(zero_keys), *net);
    FAIL() << "no exception";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("topography.every = 0: expected"), std::string::npos)
        << error.what();
  }
}

// A model without topographic layers (ModelImpl's default) refuses topography.* in one line.
TEST(TopographicObjectiveTest, AModelWithoutTopographicLayersRefusesTheLosses) {
  struct Plain : ModelImpl {
    torch::Tensor forward(torch::Tensor images) override { return images; }
  } plain;
  EXPECT_EQ(TopographicObjective::from_config(Config(), plain), nullptr);
  try {
    TopographicObjective::from_config(config_with({"topography.loss=kernel_smoothness",
                                                   "model.type=mapformer"}),
                                      plain);
    FAIL() << "no exception";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("has no conv-shaped layers"), std::string::npos)
        << error.what();
  }
}

TEST(TopographicObjectiveTest, WrongLayerWeightsAreUsageErrors) {
  LcNet net = small_net(LcNetSharing::kNone);
  try {
    TopographicObjective::from_config(
        config_with({"topography.loss=wiring", "topography.layer_weights=[1.0]"}), *net);
    FAIL() << "no exception";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("topography.layer_weights = [1.0]: 1 values for 2 "
                                             "layers (lc1, lc2)"),
              std::string::npos)
        << error.what();
  }
  EXPECT_THROW(TopographicObjective::from_config(
                   config_with({"topography.loss=wiring", "topography.layer_weights=[1, -1]"}),
                   *net),
               UsageError);
}

// topography.layer_start: a layer's loss is off until training is that far along, on both
// roads (lc1's lateral interaction through autograd, lc2's kernel smoothness in place); bad
// onsets are refused naming the key.
TEST(TopographicObjectiveTest, LayerStartSwitchesALayerOnLate) {
  torch::manual_seed(1);
  LcNet net = small_net(LcNetSharing::kNone);
  const std::vector<std::string> losses = {
      "topography.layer_losses=[\"lateral_interaction\", \"kernel_smoothness\"]",
      "topography.spacing=3.0"};
  auto late = [&](const std::string& starts) {
    std::vector<std::string> sets = losses;
    sets.push_back("topography.layer_start=" + starts);
    return TopographicObjective::from_config(config_with(sets), *net);
  };
  for (const auto& [starts, progress, lc1, lc2] :
       std::vector<std::tuple<std::string, double, bool, bool>>{{"[0.5, 0.0]", 0.0, false, true},
                                                               {"[0.5, 0.0]", 0.5, true, true},
                                                               {"[0.0, 0.75]", 0.7, true, false},
                                                               {"[0.0, 0.75]", 0.75, true, true}}) {
    auto objective = late(starts);
    objective->set_progress(progress);
    EXPECT_EQ(objective->active(0), lc1) << starts << " at " << progress;
    EXPECT_EQ(objective->active(1), lc2) << starts << " at " << progress;
    std::vector<TopographicTermValue> terms;
    const torch::Tensor total = objective->compute(&terms);
    EXPECT_EQ(terms.size(), lc1 ? 1u : 0u);
    if (!lc1) EXPECT_EQ(total.item<double>(), 0.0);
    const double in_place = objective->add_weight_gradients(&terms);
    EXPECT_EQ(terms.size(), (lc1 ? 1u : 0u) + (lc2 ? 1u : 0u)) << starts << " at " << progress;
    if (!lc2) EXPECT_EQ(in_place, 0.0);
  }
  // Without the key every loss is on from the start.
  auto from_start = TopographicObjective::from_config(config_with(losses), *net);
  EXPECT_TRUE(from_start->active(0));
  EXPECT_TRUE(from_start->active(1));
  for (const std::string bad : {"[0.5]", "[0.0, 1.0]", "[-0.1, 0.0]"}) {
    try {
      late(bad);
      ADD_FAILURE() << bad << " accepted";
    } catch (const UsageError& error) {
      EXPECT_NE(std::string(error.what()).find("topography.layer_start = "), std::string::npos)
          << error.what();
    }
  }
}

// topography.layer_losses: a loss of its own on each layer, at that loss's default weight
// where topography.weight < 0; "none" leaves a layer out; bad names and lengths are refused.
TEST(TopographicObjectiveTest, LayerLossesPutADifferentLossOnEachLayer) {
  torch::manual_seed(1);
  LcNet net = small_net(LcNetSharing::kNone);
  auto objective = TopographicObjective::from_config(
      config_with({"topography.layer_losses=[\"lateral_interaction\", \"kernel_smoothness\"]",
                   "topography.spacing=3.0"}),
      *net);
  ASSERT_NE(objective, nullptr);
  EXPECT_EQ(objective->layer_kinds(),
            (std::vector<TopographicLossKind>{TopographicLossKind::kLateralInteraction,
                                              TopographicLossKind::kKernelSmoothness}));
  EXPECT_EQ(objective->layer_weights(),
            (std::vector<std::pair<std::string, double>>{{"lc1", 30.0}, {"lc2", 10.0}}));
  // lc1's lateral interaction goes through autograd, lc2's kernel smoothness in place.
  std::vector<TopographicTermValue> terms;
  objective->compute(&terms);
  ASSERT_EQ(terms.size(), 1u);
  EXPECT_EQ(terms[0].layer, "lc1");
  objective->add_weight_gradients(&terms);
  ASSERT_EQ(terms.size(), 2u);
  EXPECT_EQ(terms[1].layer, "lc2");

  auto only_second = TopographicObjective::from_config(
      config_with({"topography.layer_losses=[\"none\", \"wiring\"]"}), *net);
  ASSERT_NE(only_second, nullptr);
  EXPECT_EQ(only_second->layer_weights(),
            (std::vector<std::pair<std::string, double>>{{"lc2", 1e-4}}));
  EXPECT_EQ(TopographicObjective::from_config(
                config_with({"topography.layer_losses=[\"none\", \"none\"]"}), *net),
            nullptr);
  // topography.loss beside layer_losses is ambiguous: one error line naming both keys.
  try {
    TopographicObjective::from_config(
        config_with({"topography.loss=wiring", "topography.layer_losses=[\"none\", \"wiring\"]"}),
        *net);
    FAIL() << "no exception";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what())
                  .find("topography.loss = \"wiring\" and topography.layer_losses = "
                        "[\"none\", \"wiring\"]: give one of them"),
              std::string::npos)
        << error.what();
  }
  try {
    TopographicObjective::from_config(
        config_with({"topography.layer_losses=[\"wiring\", \"smooth\"]"}), *net);
    FAIL() << "no exception";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what())
                  .find("topography.layer_losses = [\"wiring\", \"smooth\"]: \"smooth\" is no loss"),
              std::string::npos)
        << error.what();
  }
  EXPECT_THROW(TopographicObjective::from_config(
                   config_with({"topography.layer_losses=[\"wiring\"]"}), *net),
               UsageError);
}

}  // namespace topographic_objective_test
}  // namespace nosharing
