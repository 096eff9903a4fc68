#include "nosharing/models/wlsc.h"

#include <gtest/gtest.h>
#include <torch/optim/adam.h>

#include <cmath>
#include <utility>

#include "nosharing/core/config.h"
#include "nosharing/core/error.h"
#include "nosharing/core/gradcheck_test_util.h"
#include "nosharing/models/model.h"
#include "nosharing/models/sheet_laplacian.h"

namespace nosharing {
namespace wlsc_test {  // named, not anonymous: the tests compile in unity batches

Wlsc make_model(WlscOptions options) {
  torch::manual_seed(0);
  Wlsc model(std::move(options));
  model->to(torch::kFloat64);
  return model;
}

// ISTA with step s/L: the objective of every sample, step after step.
std::vector<torch::Tensor> objective_trace(Wlsc& model, const torch::Tensor& y, int64_t steps) {
  torch::NoGradGuard no_grad;
  const torch::Tensor a = model->dictionary();
  std::vector<torch::Tensor> trace;
  torch::Tensor x = torch::zeros({y.size(0), model->options().atoms()}, y.options());
  trace.push_back(model->code_objective(y, a, x));
  for (int64_t k = 0; k < steps; ++k) {
    x = model->encode(y, a, x, 1);
    trace.push_back(model->code_objective(y, a, x));
  }
  return trace;
}

TEST(WlscTest, IstaWithStepAtMostOneOverLNeverIncreasesTheObjective) {
  torch::manual_seed(1);
  const torch::Tensor y = torch::randn({64, 16}, torch::kFloat64) * 0.5;
  struct Case {
    const char* name;
    WlscOptions options;
  };
  std::vector<Case> cases = {
      {"plain", WlscOptions(16, 25).lambda(0.1)},
      {"codes", WlscOptions(16, 25).lambda(0.1).beta(0.5).codes_form(true)},
      {"nonnegative bipartite + codes",
       WlscOptions(16, 25).lambda(0.05).beta(0.2).codes_form(true).bipartite_form(true)
           .nonnegative(true)},
      {"step 1/L exactly, atoms form (no effect on codes)",
       WlscOptions(16, 25).lambda(0.1).beta(1.0).atoms_form(true).codes_form(true)},
  };
  for (Case& c : cases) {
    Wlsc model = make_model(c.options);
    const std::vector<torch::Tensor> trace = objective_trace(model, y, 60);
    for (size_t k = 1; k < trace.size(); ++k) {
      const torch::Tensor increase = trace[k] - trace[k - 1];
      ASSERT_LE(increase.max().item<double>(), 1e-12) << c.name << " step " << k;
    }
    EXPECT_LT(trace.back().mean().item<double>(), trace.front().mean().item<double>() - 1e-3)
        << c.name;
  }
  // The test can fail: a step of 2.2/L overshoots and the objective grows.
  Wlsc unstable = make_model(WlscOptions(16, 25).lambda(0.1).step_scale(2.2));
  const std::vector<torch::Tensor> trace = objective_trace(unstable, y, 60);
  double worst = 0;
  for (size_t k = 1; k < trace.size(); ++k) {
    worst = std::max(worst, (trace[k] - trace[k - 1]).max().item<double>());
  }
  EXPECT_GT(worst, 1e-6);
}

// FISTA against its theory (Beck & Teboulle 2009, Theorem 4.4): from x⁰ = 0,
// F(x^k) − F* ≤ 2L‖x*‖²/(k+1)² for every sample, F* and x* from 20,000 ISTA steps; it
// reaches the same minimiser, and at 30 steps it is far closer to it than ISTA.
TEST(WlscTest, FistaMeetsItsConvergenceBoundAndReachesIstasMinimiser) {
  torch::manual_seed(5);
  const torch::Tensor y = torch::randn({32, 16}, torch::kFloat64) * 0.5;
  WlscOptions options = WlscOptions(16, 64).lambda(0.05).beta(0.5).codes_form(true);
  Wlsc ista = make_model(options);
  Wlsc fista = make_model(options.encoder(WlscEncoder::kFista));
  torch::NoGradGuard no_grad;
  const torch::Tensor a = ista->dictionary();
  ASSERT_TRUE(torch::equal(a, fista->dictionary()));
  const torch::Tensor optimum = ista->encode(y, a, {}, 20000);
  const torch::Tensor best = ista->code_objective(y, a, optimum);
  const double lipschitz = ista->lipschitz(a).item<double>();
  const torch::Tensor radius2 = optimum.pow(2).sum(1);
  for (const int64_t k : {1, 2, 5, 10, 20, 40, 80}) {
    const torch::Tensor gap = fista->code_objective(y, a, fista->encode(y, a, {}, k)) - best;
    const torch::Tensor bound = 2 * lipschitz * radius2 / double((k + 1) * (k + 1));
    EXPECT_LE((gap - bound).max().item<double>(), 1e-10) << "after " << k << " FISTA steps";
  }
  const torch::Tensor ista_gap = ista->code_objective(y, a, ista->encode(y, a, {}, 30)) - best;
  const torch::Tensor fista_gap = fista->code_objective(y, a, fista->encode(y, a, {}, 30)) - best;
  EXPECT_LT(fista_gap.mean().item<double>(), 0.1 * ista_gap.mean().item<double>());
  const torch::Tensor converged = fista->encode(y, a, {}, 2000);
  EXPECT_LT((converged - optimum).abs().max().item<double>(), 1e-6);
}

// ISTA by the book (dense L, ∇f = AᵀAx − Aᵀy + 2βLx) against the encoder, which goes
// through the residual form when N ≥ 2D and the sheet stencil for Lx: the same codes.
TEST(WlscTest, EncoderEqualsDenseIstaInBothGradientForms) {
  torch::manual_seed(2);
  for (const auto& [dim, atoms] : {std::pair<int64_t, int64_t>{4, 36}, {25, 16}}) {
    Wlsc model = make_model(WlscOptions(dim, atoms).lambda(0.05).beta(0.3).codes_form(true)
                                .radius(1.5).sigma(1.2));
    torch::NoGradGuard no_grad;
    const torch::Tensor y = torch::randn({8, dim}, torch::kFloat64);
    const torch::Tensor a = model->dictionary();
    const torch::Tensor lap = graph_laplacian(sheet_neighbour_weights(model->sheet_side(), 1.5, 1.2));
    const double eta = 1.0 / model->lipschitz(a).item<double>();
    torch::Tensor x = torch::zeros({8, atoms}, torch::kFloat64);
    for (int k = 0; k < 20; ++k) {
      const torch::Tensor v = x - eta * (x.mm(a.t().mm(a)) - y.mm(a) + 2 * 0.3 * x.mm(lap));
      x = v.sign() * torch::relu(v.abs() - eta * 0.05);
    }
    EXPECT_TRUE(model->encode(y, a, {}, 20).allclose(x, 0, 1e-10)) << atoms;
  }
}

// Planted dictionary: with β = 0, data y = A* x* from a random unit-norm A* [10, 9] and
// 2-sparse codes (magnitudes in [1, 2], random signs) are learned back (300 Adam steps of
// batch 64, gradient through 25 unrolled ISTA steps). Tolerances: every planted atom has its
// own learned atom with |cos| ≥ 0.99, and on fresh data the codes (ISTA to convergence with
// the learned dictionary), matched by that permutation and sign, have relative error
// ‖x − x*‖ / ‖x*‖ ≤ 0.12 — λ = 0.1 shrinks every non-zero code by about 0.1, 5–10 % of
// magnitudes in [1, 2].
TEST(WlscTest, PlantedDictionaryAndCodesAreRecoveredWithBetaZero) {
  const int64_t d = 10, n = 9, batch = 64;
  torch::manual_seed(7);
  const torch::Tensor planted = WlscImpl::unit_atoms(torch::randn({d, n}, torch::kFloat64));
  auto make_codes = [&](int64_t count) {
    torch::Tensor x = torch::zeros({count, n}, torch::kFloat64);
    for (int64_t i = 0; i < count; ++i) {
      const torch::Tensor support = torch::randperm(n).slice(0, 0, 2);
      const torch::Tensor values = (torch::rand({2}, torch::kFloat64) + 1) *
                                   (torch::randint(0, 2, {2}, torch::kFloat64) * 2 - 1);
      x[i].index_put_({support}, values);
    }
    return x;
  };
  // The default dictionary gradient, through the unrolled encoder steps.
  Wlsc model = make_model(WlscOptions(d, n).lambda(0.1).steps(25));
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(0.05));
  for (int step = 0; step < 300; ++step) {
    const torch::Tensor y = make_codes(batch).mm(planted.t());
    optimizer.zero_grad();
    model->own_objective(y).total.backward();
    optimizer.step();
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor learned = model->dictionary();
  const torch::Tensor cosines = planted.t().mm(learned);  // [planted, learned]
  const auto [best, match] = cosines.abs().max(1);
  EXPECT_GE(best.min().item<double>(), 0.99) << cosines;
  EXPECT_EQ(std::get<0>(at::_unique(match)).numel(), n) << "a one-to-one matching";
  const torch::Tensor signs = cosines.gather(1, match.view({-1, 1})).sign().view({1, -1});
  const torch::Tensor truth = make_codes(256);
  const torch::Tensor codes = model->encode(truth.mm(planted.t()), learned, {}, 200);
  const torch::Tensor matched = codes.index_select(1, match) * signs;
  const double relative = ((matched - truth).norm() / truth.norm()).item<double>();
  EXPECT_LE(relative, 0.12);
}

TEST(WlscTest, LossGradientsMatchFiniteDifferencesInFloat64) {
  torch::manual_seed(2);
  const torch::Tensor v = torch::randn({4, 4}, torch::kFloat64);
  const torch::Tensor y = torch::randn({3, 4}, torch::kFloat64);
  const torch::Tensor y_positive = y.abs() * 0.5;
  struct Case {
    const char* name;
    WlscOptions options;
    torch::Tensor data;
  };
  std::vector<Case> cases = {
      {"ista, atoms + codes", WlscOptions(4, 4).steps(4).lambda(0.05).beta(0.3).atoms_form(true)
                                  .codes_form(true), y},
      {"ista, nonnegative, all forms, learned steps",
       WlscOptions(4, 4).steps(4).lambda(0.02).beta(0.1).atoms_form(true).codes_form(true)
           .bipartite_form(true).nonnegative(true).step_size(WlscStepSize::kLearnedPerStep),
       y_positive},
      {"lista, codes", WlscOptions(4, 4).steps(3).lambda(0.05).beta(0.2).codes_form(true)
                           .encoder(WlscEncoder::kLista), y},
      {"fixed codes", WlscOptions(4, 4).steps(5).lambda(0.05).beta(0.2).codes_form(true)
                          .gradient(WlscGradient::kFixedCodes), y},
  };
  for (Case& c : cases) {
    Wlsc model = make_model(c.options);
    const bool fixed_codes = c.options.gradient() == WlscGradient::kFixedCodes;
    auto loss = [&](const std::vector<torch::Tensor>& in) {
      return model->objective(in[0], in[1]).total;
    };
    // With fixed codes the codes are constants by design: the check is that the model's
    // gradient in V equals the (finite-difference checked) gradient of the objective at
    // the codes of the current dictionary.
    if (fixed_codes) {
      torch::Tensor codes;
      {
        torch::NoGradGuard no_grad;
        codes = model->encode(c.data, WlscImpl::unit_atoms(v));
      }
      auto at_fixed_codes = [&](const std::vector<torch::Tensor>& in) {
        const WlscTerms t = model->terms(c.data, WlscImpl::unit_atoms(in[0]), codes);
        return t.reconstruction + c.options.lambda() * t.l1 + c.options.beta() * t.codes;
      };
      EXPECT_TRUE(test_util::gradients_match_finite_differences(at_fixed_codes, {v})) << c.name;
      const torch::Tensor leaf = v.clone().requires_grad_(true);
      model->objective(leaf, c.data).total.backward();
      const torch::Tensor leaf2 = v.clone().requires_grad_(true);
      at_fixed_codes({leaf2}).backward();
      EXPECT_TRUE(leaf.grad().allclose(leaf2.grad(), 1e-10, 1e-12)) << c.name;
      continue;
    }
    EXPECT_TRUE(test_util::gradients_match_finite_differences(loss, {v, c.data})) << c.name;
  }
}

TEST(WlscTest, AtomsHaveUnitNormAndTermsAddUp) {
  Wlsc model = make_model(WlscOptions(9, 16).lambda(0.1).beta(0.5).atoms_form(true)
                              .codes_form(true).bipartite_form(true).nonnegative(true));
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(model->dictionary().norm(2, {0}).allclose(torch::ones({16}, torch::kFloat64)));
  const torch::Tensor y = torch::randn({5, 1, 3, 3}, torch::kFloat64);
  const ModelObjective objective = model->own_objective(y);
  double sum = objective.task.item<double>();
  for (const auto& [name, value] : objective.terms) {
    if (name.rfind("laplacian/", 0) == 0) sum += value.item<double>();
  }
  EXPECT_NEAR(objective.total.item<double>(), sum, 1e-12);
  EXPECT_EQ(objective.terms.size(), 6u);  // recon, sparsity, three forms, active
  EXPECT_GE(model->forward(y).min().item<double>(), 0.0) << "non-negative codes";
  EXPECT_EQ(model->sheet_side(), 4);
}

TEST(WlscTest, ConfigErrorsNameTheKey) {
  auto build = [](const std::vector<std::string>& sets) {
    Config config = Config::resolve(std::nullopt, sets, preset_toml);
    return build_model(config, InputShape{1, 12, 12}, 0);
  };
  auto usage_message = [&](const std::vector<std::string>& sets) {
    try {
      build(sets);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no UsageError");
  };
  EXPECT_NE(usage_message({"model.preset=wlsc", "wlsc.atoms=200"}).find("wlsc.atoms = 200"),
            std::string::npos);
  EXPECT_NE(usage_message({"model.preset=wlsc", "wlsc.laplacian=[\"bipartite\"]"})
                .find("wlsc.nonnegative"),
            std::string::npos);
  EXPECT_NE(usage_message({"model.preset=wlsc", "wlsc.laplacian=[\"edges\"]"}).find("edges"),
            std::string::npos);
  EXPECT_NE(usage_message({"model.preset=wlsc", "wlsc.encoder=lista", "wlsc.step_size=learned"})
                .find("wlsc.step_size"),
            std::string::npos);
  Model model = build({"model.preset=wlsc", "wlsc.laplacian=[\"atoms\", \"codes\"]",
                       "wlsc.beta=0.1"});
  EXPECT_TRUE(model->has_own_objective());
  auto* wlsc = dynamic_cast<WlscImpl*>(model.get());
  ASSERT_NE(wlsc, nullptr);
  EXPECT_EQ(wlsc->options().patch_dim(), 144);
  EXPECT_TRUE(wlsc->options().atoms_form());
  EXPECT_TRUE(wlsc->options().codes_form());
  EXPECT_FALSE(wlsc->options().bipartite_form());
}

}  // namespace wlsc_test
}  // namespace nosharing
