#include "nosharing/models/mapformer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>
#include <string>

#include "nosharing/core/error.h"
#include "nosharing/core/gradcheck_test_util.h"
#include "nosharing/core/parameter_count.h"
#include "nosharing/topography/wiring.h"

namespace nosharing {
namespace mapformer_test {  // named, not anonymous: the tests compile in unity batches

// A tiny Mapformer: 8×8 RGB images, 4×4 patches → a 2×2 grid, D = 6, 3 blocks.
MapformerOptions tiny_options() {
  return MapformerOptions(InputShape{3, 8, 8}, 4)
      .patch(4)
      .dim(6)
      .depth(3)
      .mlp_ratio(0.5)
      .aux_wiring(0.1)
      .aux_infonce(0.2)
      .infonce(InfoNceLossOptions().anchors(1000).negatives(1000));
}

Config config_with(const std::vector<std::string>& sets) {
  Config config;
  config.apply_set("model.type=mapformer");
  for (const auto& s : sets) config.apply_set(s);
  return config;
}

TEST(MapformerTest, ImagePatchesAreRowMajorColumnsOfChannelMajorPixels) {
  const torch::Tensor images = torch::arange(2 * 2 * 4 * 6, torch::kFloat32).view({2, 2, 4, 6});
  const torch::Tensor patches = image_patches(images, 2);  // grid 2×3, 2·2·2 = 8 features
  ASSERT_EQ(patches.sizes(), (std::vector<int64_t>{2, 6, 8}));
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t l = 0; l < 6; ++l) {
      const int64_t gy = l / 3, gx = l % 3;
      for (int64_t c = 0; c < 2; ++c) {
        for (int64_t py = 0; py < 2; ++py) {
          for (int64_t px = 0; px < 2; ++px) {
            EXPECT_EQ(patches[b][l][(c * 2 + py) * 2 + px].item<float>(),
                      images[b][c][gy * 2 + py][gx * 2 + px].item<float>());
          }
        }
      }
    }
  }
  EXPECT_THROW(image_patches(images, 4), c10::Error);  // 6 is not a multiple of 4
}

TEST(MapformerTest, ShapesAndParameterCounts) {
  Mapformer model(tiny_options());
  EXPECT_EQ(model->grid_height(), 2);
  EXPECT_EQ(model->grid_width(), 2);
  const torch::Tensor logits = model->forward(torch::randn({5, 3, 8, 8}));
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{5, 4}));
  // L = 4, D = 6, patch features 48, hidden 3, 4 classes.
  const int64_t embed = 4 * 6 * 48 + 4 * 6;
  const int64_t attention = 4 * 6 + 4 * 4;
  const int64_t mlp = (4 * 3 * 6 + 4 * 3) + (4 * 6 * 3 + 4 * 6);
  const int64_t head = 4 * 4 + 4 * 6 + 4;
  EXPECT_EQ(parameter_count(*model), embed + 3 * (attention + mlp) + head);
  const auto counts = parameter_counts(*model);
  ASSERT_EQ(counts.size(), 5u);
  EXPECT_EQ(counts[0], (std::pair<std::string, int64_t>{"embed", embed}));
  EXPECT_EQ(counts[1].first, "block1");
  EXPECT_EQ(counts[4], (std::pair<std::string, int64_t>{"head", head}));

  // The shared embedding: one Linear(48 → 6) for every patch.
  Mapformer shared(tiny_options().shared_embedding(true));
  EXPECT_TRUE(shared->shared_embedding());
  EXPECT_FALSE(shared->column_embedding());
  EXPECT_EQ(parameter_counts(*shared)[0].second, 48 * 6 + 6);
  // Identical patches at every column embed identically only when shared.
  const torch::Tensor tiled = torch::randn({1, 3, 4, 4}).repeat({1, 1, 2, 2});
  const torch::Tensor shared_columns = shared->features(tiled, 0);
  EXPECT_TRUE(torch::allclose(shared_columns[0][0], shared_columns[0][3]));
  const torch::Tensor unshared_columns = model->features(tiled, 0);
  EXPECT_FALSE(torch::allclose(unshared_columns[0][0], unshared_columns[0][3]));
}

TEST(MapformerTest, BlockIsTwoResidualsOverNonAffineNorms) {
  torch::manual_seed(1);
  MapformerBlock block(MapformerBlockOptions(2, 3, 4));
  const torch::Tensor x = torch::randn({2, 6, 4});
  // Layer norm by hand: biased variance over the channels, ε = 1e-5, no affine.
  const auto norm = [](const torch::Tensor& t) {
    const torch::Tensor centred = t - t.mean(-1, true);
    return centred / (centred.pow(2).mean(-1, true) + 1e-5).sqrt();
  };
  const torch::Tensor norm1 = norm(x);
  const torch::Tensor y = x + block->attn->forward(norm1);
  const torch::Tensor norm2 = norm(y);
  const torch::Tensor expected = y + block->mlp->forward(norm2);
  EXPECT_TRUE(torch::allclose(block->forward(x), expected, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(column_norm(x), norm1, 1e-5, 1e-5));
}

TEST(MapformerTest, DropPathDropsWholeImagesInTrainingOnly) {
  torch::manual_seed(2);
  const torch::Tensor x = torch::ones({400, 3, 2});
  EXPECT_TRUE(torch::equal(drop_path(x, 0.3, false), x));
  EXPECT_TRUE(torch::equal(drop_path(x, 0.0, true), x));
  const torch::Tensor dropped = drop_path(x, 0.25, true);
  // Per image: all 0 or all 1/(1 − 0.25).
  const torch::Tensor per_image = dropped.flatten(1);
  EXPECT_TRUE(torch::equal(per_image.amin(1), per_image.amax(1)));
  const torch::Tensor kept = per_image.select(1, 0) > 0;
  EXPECT_TRUE(torch::allclose(per_image.select(1, 0).masked_select(kept),
                              torch::full({kept.sum().item<int64_t>()}, 4.0 / 3)));
  const double kept_fraction = kept.to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(kept_fraction, 0.75, 0.08);
}

// The auxiliary losses are the means over blocks of each block's wiring cost and local
// InfoNCE, with their configured weights, and only after a training forward.
TEST(MapformerTest, AuxiliaryLossesAreBlockMeans) {
  torch::manual_seed(3);
  Mapformer model(tiny_options());
  model->train();
  model->forward(torch::randn({4, 3, 8, 8}));
  const std::vector<AuxiliaryLoss> losses = model->auxiliary_losses();
  ASSERT_EQ(losses.size(), 2u);
  EXPECT_EQ(losses[0].name, "wiring");
  EXPECT_EQ(losses[0].weight, 0.1);
  EXPECT_EQ(losses[1].name, "infonce");
  EXPECT_EQ(losses[1].weight, 0.2);
  double wiring = 0, infonce = 0;
  for (size_t k = 0; k < 3; ++k) {
    const torch::Tensor maps = model->blocks()[k]->attn->last_attention();
    wiring += attention_wiring_cost(maps, attention_wiring_lengths(2, 2)).item<double>();
    // Anchors and negatives cover every column (16 ≤ 1000): no sampling, a fixed value.
    infonce += model->block_infonce(k).item<double>();
  }
  EXPECT_NEAR(losses[0].value.item<double>(), wiring / 3, 1e-6);
  EXPECT_NEAR(losses[1].value.item<double>(), infonce / 3, 1e-5);
  EXPECT_GE(losses[0].value.item<double>(), 1.0);  // the minimum, self-attention, is 1
  // Weight 0 leaves a term out; evaluation mode computes none.
  Mapformer wiring_only(tiny_options().aux_infonce(0));
  wiring_only->forward(torch::randn({2, 3, 8, 8}));
  ASSERT_EQ(wiring_only->auxiliary_losses().size(), 1u);
  EXPECT_EQ(wiring_only->auxiliary_losses()[0].name, "wiring");
  model->eval();
  model->forward(torch::randn({2, 3, 8, 8}));
  EXPECT_TRUE(model->auxiliary_losses().empty());
}

// The parameters a loss reaches: names of parameters with a non-zero gradient, cut at the
// first '.' (the module) unless `full_names`.
std::set<std::string> reached_by(Mapformer& model, const torch::Tensor& loss,
                                 bool full_names = false) {
  model->zero_grad();
  loss.backward(/*gradient=*/{}, /*retain_graph=*/true);
  std::set<std::string> reached;
  for (const auto& p : model->named_parameters()) {
    if (p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0) {
      reached.insert(full_names ? p.key() : p.key().substr(0, p.key().find('.')));
    }
  }
  return reached;
}

// The weight smoothness: (1 − S)/2 per column-owned layer, S the mean cosine of
// [w; b] of one channel in horizontally and vertically adjacent columns, averaged over the
// embedding and the blocks' MLP layers; 0 when every column holds the same weights.
TEST(MapformerTest, WeightSmoothnessIsKernelSmoothnessOfTheColumnWeights) {
  torch::manual_seed(4);
  Mapformer model(tiny_options().aux_smoothness(0.5));
  model->train();
  model->forward(torch::randn({2, 3, 8, 8}));
  const std::vector<AuxiliaryLoss> losses = model->auxiliary_losses();
  ASSERT_EQ(losses.size(), 3u);
  EXPECT_EQ(losses[2].name, "smoothness");
  EXPECT_EQ(losses[2].weight, 0.5);
  const std::vector<TopographicLayer> layers = model->column_weight_layers();
  ASSERT_EQ(layers.size(), 7u);  // the embedding and 3 × (fc1, fc2)
  EXPECT_EQ(layers[0].name, "embed");
  EXPECT_EQ(layers[6].name, "block3.fc2");
  // The reference, written out on the 2×2 grid: columns 0 1 / 2 3, pairs (0,1), (2,3) across
  // and (0,2), (1,3) down.
  double expected = 0;
  for (const TopographicLayer& layer : layers) {
    const torch::Tensor v = torch::cat({layer.weight, layer.bias.unsqueeze(-1)}, -1)
                                .to(torch::kFloat64);  // [4 columns, C, D + 1]
    const auto cosine = [&](int64_t a, int64_t b) {
      return torch::cosine_similarity(v[a], v[b], /*dim=*/-1).mean().item<double>();
    };
    const double s = ((cosine(0, 1) + cosine(2, 3)) / 2 + (cosine(0, 2) + cosine(1, 3)) / 2) / 2;
    expected += (1 - s) / 2 / 7;
  }
  EXPECT_NEAR(losses[2].value.item<double>(), expected, 1e-5);
  // It reaches the column weights it measures (the embedding, the MLPs), nothing else.
  const std::set<std::string> reached = reached_by(model, losses[2].value, /*full_names=*/true);
  EXPECT_EQ(reached.size(), 14u);  // weight and bias of 7 layers
  for (const std::string& name : reached) {
    EXPECT_TRUE(name.rfind("embed.", 0) == 0 || name.find(".mlp.fc") != std::string::npos)
        << name;
  }
  // Tied columns: every layer's weights the same at each column → 0.
  {
    torch::NoGradGuard no_grad;
    for (const TopographicLayer& layer : layers) {
      layer.weight.copy_(layer.weight[0].unsqueeze(0).expand_as(layer.weight));
      layer.bias.copy_(layer.bias[0].unsqueeze(0).expand_as(layer.bias));
    }
  }
  EXPECT_NEAR(model->weight_smoothness().item<double>(), 0.0, 1e-6);
}

// Layerwise (stop-grad between blocks): block k's auxiliary losses reach block k only (and
// the embedding for k = 1); the cross-entropy reaches the last block and the head. End to
// end, the same losses reach every earlier block, so the test can tell the two apart.
TEST(MapformerTest, LayerwiseKeepsLaterLossesOutOfEarlierBlocks) {
  torch::manual_seed(4);
  const torch::Tensor images = torch::randn({4, 3, 8, 8});
  const torch::Tensor labels = torch::tensor({0, 1, 2, 3});
  for (bool layerwise : {true, false}) {
    Mapformer model(tiny_options().layerwise(layerwise));
    model->train();
    const torch::Tensor logits = model->forward(images);
    const torch::Tensor task = torch::cross_entropy_loss(logits, labels);
    using Set = std::set<std::string>;
    if (layerwise) {
      EXPECT_EQ(reached_by(model, model->block_infonce(2) + model->block_wiring_cost(2)),
                Set{"block3"});
      EXPECT_EQ(reached_by(model, model->block_infonce(1)), Set{"block2"});
      EXPECT_EQ(reached_by(model, model->block_wiring_cost(1)), Set{"block2"});
      EXPECT_EQ(reached_by(model, model->block_infonce(0)), (Set{"embed", "block1"}));
      EXPECT_EQ(reached_by(model, task), (Set{"block3", "head"}));
    } else {
      EXPECT_EQ(reached_by(model, model->block_infonce(2)),
                (Set{"embed", "block1", "block2", "block3"}));
      EXPECT_EQ(reached_by(model, task), (Set{"embed", "block1", "block2", "block3", "head"}));
    }
    // Every block still learns from the sum the trainer minimises.
    torch::Tensor total = task;
    for (const AuxiliaryLoss& aux : model->auxiliary_losses())
      total = total + aux.weight * aux.value;
    EXPECT_EQ(reached_by(model, total), (Set{"embed", "block1", "block2", "block3", "head"}));
  }
}

// Layerwise detaching is a training device: in eval mode the blocks compose as one function,
// so the analysis can take gradients of a late block's units back to the image (receptive
// fields). In training mode the same gradient stops at the block boundary.
TEST(MapformerTest, LayerwiseDetachesInTrainingModeOnly) {
  torch::manual_seed(5);
  Mapformer model(tiny_options().layerwise(true));
  for (bool training : {false, true}) {
    model->train(training);
    const torch::Tensor images = torch::randn({2, 3, 8, 8}).requires_grad_();
    const torch::Tensor late = model->features(images, 3).sum();
    const auto grads = torch::autograd::grad({late}, {images}, {}, /*retain_graph=*/false,
                                             /*create_graph=*/false, /*allow_unused=*/true);
    if (training) {
      // Only the last block's own residual path from its (detached) input: no image gradient.
      EXPECT_FALSE(grads[0].defined());
    } else {
      ASSERT_TRUE(grads[0].defined());
      EXPECT_GT(grads[0].abs().sum().item<double>(), 0.0);
    }
  }
}

// Capabilities: the column linear layers are what weight SNR reads (the embedding only when
// unshared); the Mapformer offers no conv-shaped topographic layers.
TEST(MapformerTest, OffersItsColumnLayersToWeightSnrAndNoTopographicLayers) {
  Mapformer model(tiny_options());
  const auto layers = model->weight_snr_layers();
  ASSERT_EQ(layers.size(), 1u + 2u * 3u);
  EXPECT_EQ(layers[0].first, "embed");
  EXPECT_TRUE(layers[0].second.is_same(model->column_embedding()->weight));
  EXPECT_EQ(layers[1].first, "block1.mlp.fc1");
  EXPECT_TRUE(layers[1].second.is_same(model->blocks()[0]->mlp->fc1->weight));
  EXPECT_EQ(layers[6].first, "block3.mlp.fc2");
  Mapformer shared(tiny_options().shared_embedding(true));
  EXPECT_FALSE(shared->weight_snr_layers()[0].second.defined());
  EXPECT_EQ(model->topographic_layer_count(), 0u);
  EXPECT_THROW(model->topographic_layer(0, false), RuntimeError);
}

// The whole model in float64 against finite differences (w.r.t. the images; every layer in
// between has its own gradient check).
TEST(MapformerTest, GradientMatchesFiniteDifferences) {
  torch::manual_seed(5);
  Mapformer model(MapformerOptions(InputShape{1, 4, 4}, 3)
                      .patch(2)
                      .dim(4)
                      .depth(2)
                      .mlp_ratio(0.5)
                      .bias_init(SpatialBiasInit::kGaussian));
  model->to(torch::kFloat64);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.add_(torch::randn_like(p) * 0.3);
  }
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [&](const std::vector<torch::Tensor>& in) { return model->forward(in[0]); },
      {torch::randn({2, 1, 4, 4})}));
}

TEST(MapformerTest, ConfigKeysAndTheirErrors) {
  const Config config =
      config_with({"model.patch=4", "model.dim=16", "model.depth=2", "model.embedding=shared",
                   "model.bias_init=gaussian", "model.layerwise=true", "model.aux_infonce=0.5",
                   "topography.anchors=64"});
  const MapformerOptions o = MapformerOptions::from_config(config, InputShape{3, 32, 32}, 10);
  EXPECT_EQ(o.dim(), 16);
  EXPECT_EQ(o.depth(), 2);
  EXPECT_TRUE(o.shared_embedding());
  EXPECT_TRUE(o.layerwise());
  EXPECT_EQ(o.bias_init(), SpatialBiasInit::kGaussian);
  EXPECT_EQ(o.aux_infonce(), 0.5);
  EXPECT_EQ(o.infonce().anchors(), 64);
  const auto error_of = [](const std::vector<std::string>& sets, InputShape input) {
    try {
      MapformerOptions::from_config(config_with(sets), input, 10);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error_of({"model.patch=5"}, InputShape{3, 32, 32}),
            "model.patch = 5: the 32×32 images do not divide into 5×5 patches");
  EXPECT_NE(error_of({"model.sharing=conv"}, InputShape{3, 32, 32}).find("no conv twin"),
            std::string::npos);
  EXPECT_NE(error_of({"model.layerwise=true"}, InputShape{3, 32, 32}).find("model.aux_wiring"),
            std::string::npos);
  EXPECT_EQ(error_of({"model.drop_path=1.0"}, InputShape{3, 32, 32}),
            "model.drop_path = 1: expected a probability in [0, 1)");
  EXPECT_EQ(error_of({"model.aux_wiring=-1.0"}, InputShape{3, 32, 32}),
            "model.aux_wiring = -1: expected >= 0");
  EXPECT_EQ(error_of({"model.dim=0"}, InputShape{3, 32, 32}), "model.dim = 0: expected >= 1");
  EXPECT_EQ(error_of({"model.aux_smoothness=-1.0"}, InputShape{3, 32, 32}),
            "model.aux_smoothness = -1: expected >= 0");
}

}  // namespace mapformer_test
}  // namespace nosharing
