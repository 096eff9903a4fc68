// Dynamic weight sharing (DESIGN §3, Pogodin et al. 2021): a periodic "sleep phase" in which
// the per-position kernels and biases of every unshared layer relax towards the mean over
// their sharing class, leaving the optimiser state untouched.
//   instant: each kernel and bias is replaced by its class mean.
//   hebbian: every position of a class sees the same random input patch x; with
//            z_i = w_i·x + b_i and lateral inhibition z̃_i = z_i − mean_{j∈class} z_j,
//            Δw_i = −η_eff(⟨z̃_i x⟩ + γ(w_i − w_init_i)), biases likewise with input 1.
//            The class mean is conserved (Σ z̃ = 0) and w converges to
//            w*_i = (C + γI)⁻¹(C·mean_j w_init_j + γ·w_init_i), C = ⟨x xᵀ⟩.
//            η_eff = η·B/(B + d) (batch B, fan-in d): the per-step contraction is about
//            1 − 2η + η²(1 + d/B), so a fixed η = 0.1 diverges beyond d ≈ 2500.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nosharing/core/config.h"
#include "nosharing/sharing/weight_snr.h"

namespace nosharing {

class ModelImpl;
class LocallyConnected2dImpl;

enum class SharingMode { kNone, kInstant, kHebbian };

enum class SharingClasses {
  kAll,    // every position: instant sharing gives exactly the conv twin
  kPhase,  // equal (y mod m, x mod m), m = k / gcd(k, stride): m² classes
  kLocal,  // g × g blocks of positions, g = sharing.group
};

// sharing.gradient_scale. Why: the twin's kernel gets the sum of the P per-position gradients,
// an unshared position only its own; after an instant sleep phase the class mean has moved by
// the *mean* of the per-position SGD steps, 1/P of the twin's. kClassSize multiplies the
// gradient of each position's kernel and bias by its class size n before the optimiser step,
// so that instant sharing every step follows the twin's SGD trajectory exactly (momentum and
// Nesterov are linear; weight decay, added by the optimiser, is not scaled). Adaptive
// optimisers (AdamW) divide the scale out again.
enum class GradientScale { kNone, kClassSize };

struct SharingOptions {
  SharingMode mode = SharingMode::kNone;
  GradientScale gradient_scale = GradientScale::kNone;
  int64_t every = 100;  // optimiser steps between sleep phases
  SharingClasses classes = SharingClasses::kAll;
  int64_t group = 2;    // kLocal block side
  int64_t iters = 100;  // hebbian iterations
  int64_t batch = 128;  // hebbian patches per iteration
  double eta = 0.1;     // hebbian rate before the fan-in correction
  double gamma = 1e-5;  // hebbian pull towards w_init

  // Reads sharing.*; a bad value is a UsageError naming the key and the value.
  static SharingOptions from_config(const Config& config);
};

// Period of the phase classes: m = k / gcd(k, stride). Positions m apart (in output
// coordinates) see the input through the same kernel alignment.
int64_t phase_period(int64_t kernel, int64_t stride);

// The class of every position of an output_height × output_width sheet.
struct SharingClassMap {
  torch::Tensor index;  // int64 [P], p = y·W_out + x, values in [0, count), every class used
  int64_t count = 0;
};
SharingClassMap sharing_classes(SharingClasses classes, int64_t output_height,
                                int64_t output_width, int64_t kernel, int64_t stride,
                                int64_t group);

// The size of each position's class: [P] (float64), n_p = |{q : class(q) = class(p)}|.
torch::Tensor class_sizes(const SharingClassMap& classes);

// sharing.gradient_scale = class_size on a model: made once with the model's unshared layers,
// apply() after backward and before the optimiser step multiplies each layer's weight and bias
// gradients, position by position, by the class sizes (layers without a gradient are skipped).
class ClassSizeGradientScale {
 public:
  ClassSizeGradientScale(const ModelImpl& net, const SharingOptions& options);
  void apply() const;

 private:
  struct Layer {
    torch::Tensor weight, bias, sizes;  // sizes [P] in the weight's dtype
  };
  std::vector<Layer> layers_;
};

// Instant sharing, in place (no autograd): weight [P, C_out, D] (any trailing shape) and
// bias [P, C_out] (undefined: no bias) become their class means, position by position.
void share_instant(const torch::Tensor& weight, const torch::Tensor& bias,
                   const SharingClassMap& classes);

// η_eff = η·B/(B + d) for batch B and fan-in d.
double hebbian_effective_rate(double eta, int64_t batch, int64_t fan_in);

// Hebbian sharing, in place (no autograd): `iters` steps of rate `eta` (used as given: pass
// hebbian_effective_rate for the stable rule) on weight [P, C_out, D] and bias [P, C_out]
// (undefined: no bias), with w_init the values on entry. draw_inputs(iteration) returns the
// patches x [B, D] of that iteration, the same for every position (so for every class: the
// classes are independent systems, sharing the draws changes nothing in expectation).
// Tests pass a fixed set; the sleep phase draws N(0, 1).
void share_hebbian(const torch::Tensor& weight, const torch::Tensor& bias,
                   const SharingClassMap& classes, int64_t iters, double eta, double gamma,
                   const std::function<torch::Tensor(int64_t iteration)>& draw_inputs);

// One sleep phase on one locally connected layer with options.mode (not kNone); hebbian
// patches are N(0, 1) from `generator`.
void sleep_layer(LocallyConnected2dImpl& layer, const SharingOptions& options,
                 at::Generator generator);

struct SleepRecord {
  std::string layer;  // "lc1", …
  WeightSnr before;
  WeightSnr after;
};

// The sleep phase after optimiser step `step` on every unshared layer of `net`, in order.
// Layer l's random draws come from a generator seeded by (seed, step, l), so a resumed run
// repeats them bit for bit.
std::vector<SleepRecord> run_sleep_phase(ModelImpl& net, const SharingOptions& options,
                                         uint64_t seed, int64_t step);

}  // namespace nosharing
