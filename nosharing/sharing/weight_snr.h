// Weight signal-to-noise ratio of an unshared layer (DESIGN §3, Pogodin et al. 2021): how
// close its per-position kernels are to one shared kernel. For every weight index j (output
// channel, input channel, kernel offset), over positions i:
//   squared: SNR_w = mean_j [ (mean_i w_ij)² / var_i(w_ij) ]   (the paper's definition)
//   abs:     SNR_w = mean_j [ |mean_i w_ij| / std_i(w_ij) ]     (the variant of its code)
// var_i is the unbiased variance over the P positions, so independent weights of mean 0
// give E ≈ 1/P. A layer whose positions agree (the twin, or right after instant sharing
// with class `all`) has var ≈ 0: values above kMaxWeightSnr are written as kMaxWeightSnr.
#pragma once

#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace nosharing {

class ModelImpl;

inline constexpr double kMaxWeightSnr = 1e12;

struct WeightSnr {
  double squared = 0;  // mean_j (mean_i w_ij)² / var_i(w_ij)
  double abs = 0;      // mean_j |mean_i w_ij| / std_i(w_ij)
};

// weight [P, …] (P positions first, any trailing shape: [P, C_out, C_in·k·k] for a locally
// connected layer). Computed in float64. A weight index whose variance is exactly 0 counts
// as infinitely shared (even when its mean is 0 too), and one position (P = 1) is shared by
// definition: both give kMaxWeightSnr.
// Float32 or float64 weights, one fused pass per statistic (column means, then deviations)
// parallel over weight indices; the result does not depend on the number of threads.
WeightSnr weight_snr(const torch::Tensor& weight);

// The same, and the weight's mean over positions (shape [C_out, …], the weight's dtype, from
// the float64 column sums), which instant sharing over all positions writes back.
struct WeightSnrAndMean {
  WeightSnr snr;
  torch::Tensor mean;
};
WeightSnrAndMean weight_snr_and_mean(const torch::Tensor& weight);

// The same from LibTorch reductions on a float64 copy (the plain reference the tests compare
// weight_snr against).
WeightSnr weight_snr_reference(const torch::Tensor& weight);

// The weight SNR of every layer the model offers (ModelImpl::weight_snr_layers), by name in
// order: an lcnet's or resnet's unshared layers measured, a twin's Conv2d layers
// kMaxWeightSnr (one kernel shared by construction); a mapformer's column linear layers
// ("embed", "block<k>.mlp.fc1", "block<k>.mlp.fc2"; a shared embedding kMaxWeightSnr).
std::vector<std::pair<std::string, WeightSnr>> layer_weight_snrs(const ModelImpl& model);

}  // namespace nosharing
