// Representational similarity analysis (Kriegeskorte, Mur & Bandettini 2008, "Representational
// similarity analysis – connecting the branches of systems neuroscience", Front. Syst.
// Neurosci. 2:4): a layer's representational dissimilarity matrix (RDM) over a stimulus set,
// and the rank correlation of two RDMs with a permutation test over stimuli — how model
// layers are compared with each other and with brain data (`nosharing rsa`).
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace nosharing {

// activations [N, …] (N stimuli; the rest flattened to one response vector each) → float64
// [N, N]: RDM_ij = 1 − Pearson(x_i, x_j), 0 on the diagonal. A stimulus whose response
// vector is constant has no correlation: its row and column are NaN (but the diagonal).
torch::Tensor dissimilarity_matrix(const torch::Tensor& activations);

// Ranks of `values` (1-D), ties given their mean rank, as float64: what Spearman's ρ
// correlates.
torch::Tensor average_ranks(const torch::Tensor& values);

// Spearman's ρ of two RDMs [N, N] over their upper triangles (i < j): Pearson's r of the
// ranks. NaN if either triangle is constant or holds a NaN.
double rdm_spearman(const torch::Tensor& a, const torch::Tensor& b);

struct RdmComparison {
  double spearman = 0;  // ρ of the two RDMs as given
  // One-sided permutation p-value: the share of relabelings of b's stimuli (rows and columns
  // permuted together) whose ρ with a is at least the observed one, (1 + count) /
  // (1 + permutations) — never 0, so it is valid for a finite number of permutations.
  double p_value = 1;
  int64_t permutations = 0;
};

// ρ and its permutation p-value (`permutations` random relabelings from `seed`). RuntimeError
// if the RDMs are not square and of the same size, or smaller than 3×3 (fewer than 3 pairs).
RdmComparison compare_rdms(const torch::Tensor& a, const torch::Tensor& b, int64_t permutations,
                           uint64_t seed);

}  // namespace nosharing
