#include "nosharing/sharing/dynamic_sharing.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "nosharing/core/error.h"
#include "nosharing/layers/locally_connected.h"
#include "nosharing/models/lcnet.h"

namespace nosharing {
namespace dynamic_sharing_test {  // named, not anonymous: the tests compile in unity batches

// Distinct kernels (rows of [P, …]) of a layer.
int64_t distinct_kernels(const torch::Tensor& weight) {
  return std::get<0>(at::unique_dim(weight.reshape({weight.size(0), -1}), 0)).size(0);
}

TEST(DynamicSharingTest, InstantAllTurnsALayerIntoItsTwin) {
  torch::manual_seed(11);
  for (int64_t stride : {1, 2}) {
    LocallyConnected2d layer(
        LocallyConnected2dOptions(3, 5, 3, 9, 9).stride(stride).padding(1));
    const torch::Tensor mean_kernel = layer->mean_conv_weight();
    const torch::Tensor mean_bias = layer->bias.mean(0).detach();
    const SharingClassMap all =
        sharing_classes(SharingClasses::kAll, layer->output_height(), layer->output_width(), 3,
                        stride, 1);
    EXPECT_EQ(all.count, 1);
    share_instant(layer->weight, layer->bias, all);
    EXPECT_EQ(distinct_kernels(layer->weight), 1);
    EXPECT_EQ(distinct_kernels(layer->bias), 1);
    const torch::Tensor x = torch::randn({2, 3, 9, 9});
    torch::NoGradGuard no_grad;
    const torch::Tensor twin = torch::conv2d(x, mean_kernel, mean_bias, stride, 1);
    EXPECT_TRUE(torch::allclose(layer->forward(x), twin, 1e-5, 1e-5)) << "stride " << stride;
    EXPECT_EQ(weight_snr(layer->weight).squared, kMaxWeightSnr);
  }
}

TEST(DynamicSharingTest, InstantPhaseLeavesExactlyMSquaredKernels) {
  torch::manual_seed(12);
  struct Case {
    int64_t kernel, stride, expected_m;
  };
  // m = k / gcd(k, stride): 5/gcd(5, 2) = 5, 3/gcd(3, 1) = 3, 4/gcd(4, 2) = 2, 6/gcd(6, 4) = 3.
  for (const Case& c : {Case{5, 2, 5}, Case{3, 1, 3}, Case{4, 2, 2}, Case{6, 4, 3}}) {
    EXPECT_EQ(phase_period(c.kernel, c.stride), c.expected_m);
    LocallyConnected2d layer(LocallyConnected2dOptions(2, 3, c.kernel, 28, 28)
                                 .stride(c.stride)
                                 .padding(c.kernel / 2));
    const int64_t h = layer->output_height(), w = layer->output_width(), m = c.expected_m;
    ASSERT_GE(std::min(h, w), m);
    const SharingClassMap phase =
        sharing_classes(SharingClasses::kPhase, h, w, c.kernel, c.stride, 1);
    EXPECT_EQ(phase.count, m * m);
    EXPECT_GT(distinct_kernels(layer->weight), m * m);
    share_instant(layer->weight, layer->bias, phase);
    EXPECT_EQ(distinct_kernels(layer->weight), m * m) << "k " << c.kernel << " s " << c.stride;
    EXPECT_EQ(distinct_kernels(layer->bias), m * m);
    // Positions m apart share their kernel.
    EXPECT_TRUE(torch::equal(layer->weight[0], layer->weight[m]));
    EXPECT_TRUE(torch::equal(layer->weight[0], layer->weight[m * w]));
    EXPECT_FALSE(torch::equal(layer->weight[0], layer->weight[1]));
  }
}

TEST(DynamicSharingTest, LocalClassesAreBlocks) {
  // A 5 × 5 sheet in 2 × 2 blocks: 3 × 3 blocks, the last row and column narrower.
  const SharingClassMap local = sharing_classes(SharingClasses::kLocal, 5, 5, 3, 1, 2);
  EXPECT_EQ(local.count, 9);
  const torch::Tensor grid = local.index.view({5, 5});
  EXPECT_EQ(grid[0][0].item<int64_t>(), grid[1][1].item<int64_t>());
  EXPECT_NE(grid[0][1].item<int64_t>(), grid[0][2].item<int64_t>());
  EXPECT_EQ(grid[4][4].item<int64_t>(), 8);
  // Instant local sharing: each block's kernels become the block mean.
  torch::manual_seed(13);
  torch::Tensor weight = torch::randn({25, 2, 3});
  const torch::Tensor before = weight.clone();
  share_instant(weight, torch::Tensor(), local);
  EXPECT_EQ(distinct_kernels(weight), 9);
  const torch::Tensor block = before.index_select(0, torch::tensor({0, 1, 5, 6}));
  EXPECT_TRUE(torch::allclose(weight[6], block.mean(0), 1e-6, 1e-6));
}

// The hebbian fixed point on a fixed set of M inputs (DESIGN §3): with the bias folded in
// as a constant input 1, v_i = [w_i; b_i], x' = [x; 1], C = ⟨x' x'ᵀ⟩ over the M inputs:
//   v*_i = (C + γI)⁻¹(C·mean_{j∈class(i)} v_init_j + γ·v_init_i).
// Tolerance: 1e-9 in float64 after 4000 iterations; the slowest mode contracts by at least
// η(λ_min(C) + γ) ≥ 0.02 per iteration, i.e. by e^−80 in total.
TEST(DynamicSharingTest, HebbianConvergesToTheClosedFormOnFixedInputs) {
  torch::manual_seed(14);
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const int64_t positions = 6, out_channels = 2, fan_in = 4, m = 10;
  const double gamma = 0.1, eta = 0.2;
  torch::Tensor weight = torch::randn({positions, out_channels, fan_in}, f64);
  torch::Tensor bias = torch::randn({positions, out_channels}, f64);
  // Not centred, not white: C differs clearly from I.
  const torch::Tensor inputs =
      torch::randn({m, fan_in}, f64) * torch::tensor({1.5, 0.5, 1.0, 0.8}, f64) + 0.4;
  SharingClassMap classes;
  classes.index = torch::tensor({0, 0, 1, 0, 1, 1}, torch::kInt64);
  classes.count = 2;

  const torch::Tensor v_init = torch::cat({weight, bias.unsqueeze(2)}, 2);  // [P, C_out, D+1]
  const torch::Tensor x1 = torch::cat({inputs, torch::ones({m, 1}, f64)}, 1);
  const torch::Tensor c = x1.t().mm(x1) / m;
  const torch::Tensor a = c + gamma * torch::eye(fan_in + 1, f64);
  torch::Tensor expected = torch::empty_like(v_init);
  torch::Tensor plain_mean = torch::empty_like(v_init);
  for (int64_t p = 0; p < positions; ++p) {
    const torch::Tensor members = (classes.index == classes.index[p]).nonzero().view({-1});
    const torch::Tensor mean = v_init.index_select(0, members).mean(0);  // [C_out, D+1]
    plain_mean[p] = mean;
    const torch::Tensor rhs = c.mm(mean.t()) + gamma * v_init[p].t();  // [D+1, C_out]
    expected[p] = at::linalg_solve(a, rhs).t();
  }
  share_hebbian(weight, bias, classes, 4000, eta, gamma, [&](int64_t) { return inputs; });
  const torch::Tensor result = torch::cat({weight, bias.unsqueeze(2)}, 2);
  EXPECT_LT((result - expected).abs().max().item<double>(), 1e-9);
  // The test means something: w* is far from the plain class mean (and from w_init).
  EXPECT_GT((expected - plain_mean).abs().max().item<double>(), 0.05);
  EXPECT_GT((expected - v_init).abs().max().item<double>(), 0.05);
}

// Deviation of the kernels from their mean over all positions.
double spread(const torch::Tensor& weight) {
  return (weight - weight.mean(0)).norm().item<double>();
}

TEST(DynamicSharingTest, HebbianIsStableAtFanIn3000) {
  // C_in·k·k = 120·25 = 3000 on a 2 × 2 sheet. Per step the squared spread contracts by
  // about 1 − 2η + η²(1 + d/B): with η_eff = 0.1·128/3128 ≈ 0.0041 that is 0.992, so 100
  // iterations keep ≈ 0.46 of it (√ ≈ 0.68 of the spread); a fixed η = 0.1 would multiply
  // its expected square by 1.044 per step (the realised spread grows ≈ 9× in 100 steps).
  torch::manual_seed(15);
  LocallyConnected2d layer(LocallyConnected2dOptions(120, 3, 5, 6, 6));
  ASSERT_EQ(layer->weight.size(2), 3000);
  ASSERT_EQ(layer->positions(), 4);
  const double before = spread(layer->weight);
  SharingOptions options;
  options.mode = SharingMode::kHebbian;
  sleep_layer(*layer, options, at::make_generator<at::CPUGeneratorImpl>(7));
  const double after = spread(layer->weight);
  EXPECT_TRUE(torch::isfinite(layer->weight).all().item<bool>());
  EXPECT_LT(after / before, 0.8);
  EXPECT_GT(after / before, 0.55);

  // Without the fan-in correction the same phase diverges.
  torch::Tensor weight = layer->weight.detach().clone();
  const double start = spread(weight);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(8);
  share_hebbian(weight, torch::Tensor(),
                sharing_classes(SharingClasses::kAll, 2, 2, 5, 1, 1), 100, 0.1, 1e-5,
                [&](int64_t) { return at::randn({128, 3000}, generator, at::kFloat); });
  EXPECT_GT(spread(weight) / start, 3.0);
}

LcNet small_net() {
  torch::manual_seed(16);
  return LcNet(LcNetOptions(InputShape{1, 12, 12}, 3, {4, 6}).kernels({3}).strides({2, 1}));
}

TEST(DynamicSharingTest, SleepPhaseIsSeededByStepAndRaisesSnr) {
  SharingOptions options;
  options.mode = SharingMode::kHebbian;
  options.iters = 20;
  options.batch = 16;
  LcNet a = small_net(), b = small_net(), c = small_net();
  const std::vector<SleepRecord> records = run_sleep_phase(*a, options, 3, 100);
  run_sleep_phase(*b, options, 3, 100);
  run_sleep_phase(*c, options, 3, 200);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].layer, "lc1");
  EXPECT_EQ(records[1].layer, "lc2");
  for (const SleepRecord& r : records) {
    EXPECT_GT(r.after.squared, r.before.squared) << r.layer;
    EXPECT_GT(r.after.abs, r.before.abs) << r.layer;
  }
  const auto pa = a->parameters(), pb = b->parameters(), pc = c->parameters();
  bool any_differs = false;
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
    any_differs = any_differs || !torch::equal(pa[i], pc[i]);
  }
  EXPECT_TRUE(any_differs);

  options.mode = SharingMode::kInstant;
  for (const SleepRecord& r : run_sleep_phase(*a, options, 3, 300)) {
    EXPECT_EQ(r.after.squared, kMaxWeightSnr) << r.layer;
  }
}

TEST(DynamicSharingTest, FusedInstantAllSleepMatchesMeasureShareMeasure) {
  // The sleep phase's fused path for class all (one SNR pass pair that also gives the mean
  // kernel) against the plain one: weight_snr, share_instant, weight_snr.
  SharingOptions options;
  options.mode = SharingMode::kInstant;
  LcNet fused = small_net(), plain = small_net();
  const std::vector<SleepRecord> records = run_sleep_phase(*fused, options, 3, 10);
  const auto fused_layers = fused->unshared_layers(), plain_layers = plain->unshared_layers();
  ASSERT_EQ(records.size(), plain_layers.size());
  for (size_t l = 0; l < records.size(); ++l) {
    const auto& layer = plain_layers[l].second;
    const WeightSnr before = weight_snr_reference(layer->weight);
    share_instant(layer->weight, layer->bias,
                  sharing_classes(SharingClasses::kAll, layer->output_height(),
                                  layer->output_width(), layer->options.kernel_size(),
                                  layer->options.stride(), 1));
    EXPECT_NEAR(records[l].before.squared, before.squared, 1e-9 * before.squared);
    EXPECT_NEAR(records[l].before.abs, before.abs, 1e-9 * before.abs);
    EXPECT_EQ(records[l].after.squared, weight_snr_reference(layer->weight).squared);
    EXPECT_EQ(records[l].after.abs, kMaxWeightSnr);
    const auto& shared = fused_layers[l].second;
    EXPECT_EQ(distinct_kernels(shared->weight), 1);
    EXPECT_TRUE(torch::allclose(shared->weight, layer->weight, 1e-6, 1e-7)) << records[l].layer;
    EXPECT_TRUE(torch::allclose(shared->bias, layer->bias, 1e-6, 1e-7)) << records[l].layer;
  }
}

TEST(DynamicSharingTest, ClassSizesCountEachPositionsClass) {
  // 5×5 sheet, k = 3, stride 2: m = 3, classes (y mod 3, x mod 3) of sizes 4, 2 and 1.
  const SharingClassMap phase = sharing_classes(SharingClasses::kPhase, 5, 5, 3, 2, 1);
  const torch::Tensor sizes = class_sizes(phase).view({5, 5});
  EXPECT_EQ(sizes[0][0].item<double>(), 4);  // (0|3) × (0|3)
  EXPECT_EQ(sizes[0][2].item<double>(), 2);  // (0|3) × 2
  EXPECT_EQ(sizes[2][2].item<double>(), 1);
  // Σ_p n_p = Σ_classes n² = (Σ_a n_a²)², rows y mod 3 holding n_a = 2, 2, 1 positions.
  EXPECT_EQ(sizes.sum().item<double>(), (4 + 4 + 1) * (4 + 4 + 1));
  const torch::Tensor all =
      class_sizes(sharing_classes(SharingClasses::kAll, 3, 4, 3, 1, 1));
  EXPECT_TRUE(torch::equal(all, torch::full({12}, 12.0, torch::kFloat64)));
}

// The invariance gradient_scale = class_size is for: an unshared net tied to its twin, scaled
// gradients and an instant sleep (class all) after every step follows the twin's SGD
// trajectory (Nesterov momentum, weight decay) exactly; without the scale the shared kernels
// move by 1/P of the twin's step.
TEST(DynamicSharingTest, ClassSizeScaleWithInstantSharingEveryStepFollowsTheTwin) {
  for (const bool scaled : {true, false}) {
    torch::manual_seed(21);
    const auto options = LcNetOptions(InputShape{2, 9, 9}, 4, {3, 5}).kernels({3, 3}).strides({2, 1});
    LcNet twin(LcNetOptions(options).sharing(LcNetSharing::kConv));
    LcNet net(LcNetOptions(options).sharing(LcNetSharing::kNone));
    twin->to(torch::kFloat64);
    net->to(torch::kFloat64);
    tie_to_twin(*net, *twin);
    const auto sgd = torch::optim::SGDOptions(0.05).momentum(0.9).nesterov(true).weight_decay(5e-4);
    torch::optim::SGD twin_optimizer(twin->parameters(), sgd);
    torch::optim::SGD net_optimizer(net->parameters(), sgd);
    SharingOptions sharing;
    sharing.mode = SharingMode::kInstant;
    sharing.gradient_scale = GradientScale::kClassSize;
    const ClassSizeGradientScale scale(*net, sharing);
    const torch::Tensor images = torch::randn({8, 2, 9, 9}, torch::kFloat64);
    const torch::Tensor labels = torch::randint(4, {8}, torch::kInt64);
    for (int step = 1; step <= 4; ++step) {
      twin_optimizer.zero_grad();
      torch::nn::functional::cross_entropy(twin->forward(images), labels).backward();
      twin_optimizer.step();
      net_optimizer.zero_grad();
      torch::nn::functional::cross_entropy(net->forward(images), labels).backward();
      if (scaled) scale.apply();
      net_optimizer.step();
      run_sleep_phase(*net, sharing, 0, step);
    }
    for (const auto& [name, conv] : twin->conv_layers()) {
      const auto layer = net->named_children()[name]->as<LocallyConnected2d>();
      const torch::Tensor expected =
          locally_connected_weight_from_conv(conv->weight, layer->positions());
      EXPECT_EQ(torch::allclose(layer->weight, expected, 1e-10, 1e-12), scaled) << name;
    }
    torch::NoGradGuard no_grad;
    EXPECT_EQ(torch::allclose(net->forward(images), twin->forward(images), 1e-9, 1e-11), scaled);
  }
}

TEST(DynamicSharingTest, BadConfigValuesAreUsageErrorsNamingTheKey) {
  for (const std::string& set :
       {"sharing.every=0", "sharing.group=0", "sharing.iters=0", "sharing.batch=0",
        "sharing.eta=0", "sharing.eta=1.5", "sharing.gamma=-1"}) {
    Config config;
    config.apply_set(set);
    try {
      SharingOptions::from_config(config);
      ADD_FAILURE() << set << " accepted";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(set.substr(0, set.find('='))), std::string::npos)
          << e.what();
    }
  }
  Config config;
  config.apply_set("sharing.mode=hebbian");
  config.apply_set("sharing.classes=phase");
  const SharingOptions options = SharingOptions::from_config(config);
  EXPECT_EQ(options.mode, SharingMode::kHebbian);
  EXPECT_EQ(options.classes, SharingClasses::kPhase);
  EXPECT_EQ(options.iters, 100);
  EXPECT_EQ(options.batch, 128);
  EXPECT_DOUBLE_EQ(options.eta, 0.1);
  EXPECT_DOUBLE_EQ(options.gamma, 1e-5);
  EXPECT_EQ(options.gradient_scale, GradientScale::kNone);
  config.apply_set("sharing.gradient_scale=class_size");
  EXPECT_EQ(SharingOptions::from_config(config).gradient_scale, GradientScale::kClassSize);
}

}  // namespace dynamic_sharing_test
}  // namespace nosharing
