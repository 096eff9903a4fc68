#include "nosharing/analysis/rsa.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "nosharing/core/error.h"

namespace nosharing {
namespace rsa_internal {  // named, not anonymous: the library compiles in unity batches

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_rdm_pair(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.dim() != 2 || a.size(0) != a.size(1) || b.dim() != 2 || b.size(0) != b.size(1) ||
      a.size(0) != b.size(0)) {
    throw_runtime("rsa: expected two square RDMs of one size [N, N], got {} and {}",
                  c10::str(a.sizes()), c10::str(b.sizes()));
  }
  if (a.size(0) < 3) {
    throw_runtime("rsa: RDMs of {} stimuli have fewer than 3 pairs to correlate", a.size(0));
  }
}

// Pearson's r of two float64 vectors; NaN if either is constant.
double pearson(const torch::Tensor& x, const torch::Tensor& y) {
  const torch::Tensor dx = x - x.mean();
  const torch::Tensor dy = y - y.mean();
  const double sxx = (dx * dx).sum().item<double>();
  const double syy = (dy * dy).sum().item<double>();
  if (!(sxx > 0) || !(syy > 0)) return kNaN;
  return (dx * dy).sum().item<double>() / std::sqrt(sxx * syy);
}

// The upper triangle (i < j) of an RDM [N, N] as [N(N−1)/2], row-major.
torch::Tensor upper_triangles(const torch::Tensor& rdm) {
  const int64_t n = rdm.size(-1);
  const torch::Tensor index = at::triu_indices(n, n, 1, at::kLong);
  return rdm.index({torch::indexing::Ellipsis, index[0], index[1]});
}

}  // namespace rsa_internal

torch::Tensor dissimilarity_matrix(const torch::Tensor& activations) {
  if (activations.dim() < 1 || activations.size(0) < 1) {
    throw_runtime("rsa: activations must be [N, …] with N ≥ 1 stimuli, got {}",
                  c10::str(activations.sizes()));
  }
  const torch::Tensor x = activations.detach().to(at::kDouble).reshape({activations.size(0), -1});
  const torch::Tensor centred = x - x.mean(1, /*keepdim=*/true);
  const torch::Tensor norms = centred.norm(2, 1, /*keepdim=*/true);
  // A constant response vector has no direction: NaN makes every correlation with it NaN.
  const torch::Tensor unit = centred / norms.where(norms > 0, at::full_like(norms, rsa_internal::kNaN));
  torch::Tensor rdm = 1.0 - unit.matmul(unit.t());
  rdm.fill_diagonal_(0.0);
  return rdm;
}

torch::Tensor average_ranks(const torch::Tensor& values) {
  const torch::Tensor v = values.detach().to(at::kDouble).contiguous();
  const int64_t n = v.numel();
  const double* data = v.data_ptr<double>();
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t i, int64_t j) { return data[i] < data[j]; });
  torch::Tensor ranks = at::empty({n}, at::kDouble);
  double* out = ranks.data_ptr<double>();
  for (int64_t start = 0; start < n;) {
    int64_t end = start + 1;
    while (end < n && data[order[end]] == data[order[start]]) ++end;
    const double mean_rank = 0.5 * static_cast<double>(start + 1 + end);  // ranks start+1 … end
    for (int64_t k = start; k < end; ++k) out[order[k]] = mean_rank;
    start = end;
  }
  return ranks;
}

double rdm_spearman(const torch::Tensor& a, const torch::Tensor& b) {
  rsa_internal::check_rdm_pair(a, b);
  const torch::Tensor ua = rsa_internal::upper_triangles(a.to(at::kDouble));
  const torch::Tensor ub = rsa_internal::upper_triangles(b.to(at::kDouble));
  if (!at::isfinite(ua).all().item<bool>() || !at::isfinite(ub).all().item<bool>()) {
    return rsa_internal::kNaN;
  }
  return rsa_internal::pearson(average_ranks(ua), average_ranks(ub));
}

RdmComparison compare_rdms(const torch::Tensor& a, const torch::Tensor& b, int64_t permutations,
                           uint64_t seed) {
  rsa_internal::check_rdm_pair(a, b);
  if (permutations < 0) throw_runtime("rsa: permutations must be ≥ 0, got {}", permutations);
  RdmComparison result;
  result.spearman = rdm_spearman(a, b);
  result.permutations = permutations;
  if (std::isnan(result.spearman)) {
    result.p_value = rsa_internal::kNaN;
    return result;
  }
  const torch::Tensor rank_a = average_ranks(rsa_internal::upper_triangles(a.to(at::kDouble)));
  // Relabeling b's stimuli moves its pair values between cells but keeps their multiset, so
  // their ranks move with them: rank b's triangle once, as a symmetric matrix, and permute that.
  const int64_t n = a.size(0);
  const torch::Tensor index = at::triu_indices(n, n, 1, at::kLong);
  torch::Tensor b64 = at::zeros({n, n}, at::kDouble);
  const torch::Tensor rank_b = average_ranks(rsa_internal::upper_triangles(b.to(at::kDouble)));
  b64.index_put_({index[0], index[1]}, rank_b);
  b64.index_put_({index[1], index[0]}, rank_b);
  std::mt19937_64 rng(seed);
  std::vector<int64_t> order(static_cast<size_t>(n));
  int64_t at_least = 0;
  for (int64_t p = 0; p < permutations; ++p) {
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    const torch::Tensor relabel = at::tensor(order, at::kLong);
    const torch::Tensor permuted = b64.index_select(0, relabel).index_select(1, relabel);
    const double rho = rsa_internal::pearson(rank_a, rsa_internal::upper_triangles(permuted));
    if (rho >= result.spearman - 1e-12) ++at_least;
  }
  result.p_value = static_cast<double>(1 + at_least) / static_cast<double>(1 + permutations);
  return result;
}

}  // namespace nosharing
