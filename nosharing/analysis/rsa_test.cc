#include "nosharing/analysis/rsa.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "nosharing/core/error.h"

namespace nosharing {
namespace rsa_test {  // named, not anonymous: the tests compile in unity batches

// A symmetric RDM with zero diagonal from random pair values.
torch::Tensor random_rdm(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  const torch::Tensor upper = torch::rand({n, n}, torch::kFloat64).triu(1);
  return upper + upper.t();
}

TEST(RsaTest, DissimilarityIsOneMinusPearsonByHand) {
  // Three stimuli, three units: x0 and x1 perfectly correlated (x1 = 2·x0 + 1), x2 = −x0.
  const torch::Tensor x = torch::tensor({{1.0, 2.0, 4.0}, {3.0, 5.0, 9.0}, {-1.0, -2.0, -4.0}});
  const torch::Tensor rdm = dissimilarity_matrix(x);
  const torch::Tensor expected =
      torch::tensor({{0.0, 0.0, 2.0}, {0.0, 0.0, 2.0}, {2.0, 2.0, 0.0}}, torch::kFloat64);
  EXPECT_TRUE(torch::allclose(rdm, expected, 1e-12, 1e-12)) << rdm;
  // Against the definition on random data with a trailing shape (flattened per stimulus).
  torch::manual_seed(3);
  const torch::Tensor y = torch::randn({5, 2, 3, 4}, torch::kFloat64);
  const torch::Tensor got = dissimilarity_matrix(y);
  for (int64_t i = 0; i < 5; ++i) {
    for (int64_t j = 0; j < 5; ++j) {
      const torch::Tensor a = y[i].flatten() - y[i].mean();
      const torch::Tensor b = y[j].flatten() - y[j].mean();
      const double r = (a * b).sum().item<double>() / (a.norm() * b.norm()).item<double>();
      EXPECT_NEAR(got[i][j].item<double>(), i == j ? 0.0 : 1.0 - r, 1e-12);
    }
  }
}

TEST(RsaTest, AConstantResponseHasNoCorrelation) {
  const torch::Tensor x = torch::tensor({{1.0, 1.0, 1.0}, {1.0, 2.0, 3.0}, {3.0, 1.0, 2.0}});
  const torch::Tensor rdm = dissimilarity_matrix(x);
  EXPECT_TRUE(std::isnan(rdm[0][1].item<double>()));
  EXPECT_EQ(rdm[0][0].item<double>(), 0.0);
  EXPECT_TRUE(std::isfinite(rdm[1][2].item<double>()));
  EXPECT_TRUE(std::isnan(rdm_spearman(rdm, rdm)));
}

TEST(RsaTest, AverageRanksShareTies) {
  const torch::Tensor ranks = average_ranks(torch::tensor({10.0, 20.0, 10.0, 5.0, 20.0, 20.0}));
  EXPECT_TRUE(torch::equal(ranks, torch::tensor({2.5, 5.0, 2.5, 1.0, 5.0, 5.0}))) << ranks;
}

TEST(RsaTest, SpearmanIsOneForIdenticalOrMonotonicAndMinusOneForReversed) {
  const torch::Tensor a = random_rdm(12, 1);
  EXPECT_NEAR(rdm_spearman(a, a), 1.0, 1e-12);
  EXPECT_NEAR(rdm_spearman(a, a.pow(3) + 2.0 * a), 1.0, 1e-12);  // any increasing map of a
  EXPECT_NEAR(rdm_spearman(a, 5.0 - a), -1.0, 1e-12);
}

TEST(RsaTest, PlantedIdenticalRdmsAreSignificantShuffledOnesAreNot) {
  const int64_t n = 20;
  const torch::Tensor a = random_rdm(n, 2);
  const RdmComparison same = compare_rdms(a, a, 999, 7);
  EXPECT_NEAR(same.spearman, 1.0, 1e-12);
  EXPECT_NEAR(same.p_value, 1.0 / 1000.0, 1e-12);  // no relabeling reaches ρ = 1
  EXPECT_EQ(same.permutations, 999);

  // b: a with its stimuli shuffled — the same values under other labels, so no relation.
  torch::manual_seed(11);
  const torch::Tensor order = torch::randperm(n);
  const torch::Tensor b = a.index_select(0, order).index_select(1, order);
  const RdmComparison shuffled = compare_rdms(a, b, 999, 7);
  EXPECT_LT(std::abs(shuffled.spearman), 0.2);
  EXPECT_GT(shuffled.p_value, 0.01);
  // Unshuffled again, b is a: the comparison is exactly that of a with itself.
  const torch::Tensor inverse = torch::argsort(order);
  EXPECT_NEAR(rdm_spearman(a, b.index_select(0, inverse).index_select(1, inverse)), 1.0, 1e-12);
}

// The fast path ranks b once and permutes the ranks; the plain one relabels b and recomputes
// ρ each time. Same relabelings (same seed), same count — with ties in both RDMs.
TEST(RsaTest, PermutationPValueMatchesRecomputingEachRelabeling) {
  const int64_t n = 9;
  const torch::Tensor a = (random_rdm(n, 4) * 4).round();  // few distinct values: many ties
  const torch::Tensor b = (0.5 * a + random_rdm(n, 5) * 3).round();
  const RdmComparison fast = compare_rdms(a, b, 200, 13);
  std::mt19937_64 rng(13);
  std::vector<int64_t> order(static_cast<size_t>(n));
  int64_t at_least = 0;
  for (int p = 0; p < 200; ++p) {
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    const torch::Tensor relabel = torch::tensor(order, torch::kLong);
    const torch::Tensor permuted = b.index_select(0, relabel).index_select(1, relabel);
    if (rdm_spearman(a, permuted) >= fast.spearman - 1e-12) ++at_least;
  }
  EXPECT_NEAR(fast.spearman, rdm_spearman(a, b), 1e-15);
  EXPECT_DOUBLE_EQ(fast.p_value, (1.0 + at_least) / 201.0);
}

TEST(RsaTest, MismatchedOrTinyRdmsAreRefusedWithTheirSizes) {
  try {
    compare_rdms(random_rdm(5, 1), random_rdm(6, 1), 10, 0);
    FAIL() << "RDMs of different sizes were compared";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("[5, 5] and [6, 6]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(rdm_spearman(random_rdm(2, 1), random_rdm(2, 2)), RuntimeError);
  EXPECT_THROW(rdm_spearman(torch::zeros({3, 4}), torch::zeros({3, 4})), RuntimeError);
}

}  // namespace rsa_test
}  // namespace nosharing
