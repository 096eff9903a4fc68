#include "nosharing/train/fused_optimizer.h"

#include <ATen/Parallel.h>
#include <c10/util/string_utils.h>
#include <torch/autograd.h>

#include <cmath>
#include <memory>
#include <string>

#include "nosharing/core/vectorised.h"

namespace nosharing {
namespace {

// Elements per task of the parallel loops: large enough that a task streams memory for a
// few microseconds.
constexpr int64_t kGrain = int64_t{1} << 15;

// Whether the fused loops can run on this parameter: contiguous float32 parameter and
// gradient (the kernels' gradients are), on the CPU.
bool fusable(const torch::Tensor& p) {
  const torch::Tensor& g = p.grad();
  return p.device().is_cpu() && p.scalar_type() == at::kFloat && p.is_contiguous() &&
         g.scalar_type() == at::kFloat && g.is_contiguous() && !g.is_sparse();
}

bool all_fusable(const std::vector<torch::optim::OptimizerParamGroup>& groups) {
  for (const auto& group : groups) {
    for (const auto& p : group.params()) {
      if (p.grad().defined() && !fusable(p)) return false;
    }
  }
  return true;
}

std::string state_key(const torch::Tensor& p) {
  return c10::guts::to_string(p.unsafeGetTensorImpl());
}

// LibTorch's SGD step on one parameter, element by element:
//   d = g + λp;  b = d (first step) or μb + (1 − τ)d;  d = d + μb (Nesterov) or b;  p = p − ηd.
// Each scalar rounded to float from its double, as LibTorch's ops take them (1 − τ included).
struct SgdScalars {
  float lr, momentum, keep, weight_decay;
};

// The loop for one combination of the switches, without a branch inside, so that it
// vectorises.
template <bool kDecay, bool kMomentum, bool kFirst, bool kNesterov>
void sgd_loop(float* __restrict p, const float* __restrict g, float* __restrict b, int64_t n,
              SgdScalars s) {
  at::parallel_for(0, n, kGrain, [=](int64_t begin, int64_t end) NOSHARING_VECTORISED {
    const float lr = s.lr, mu = s.momentum, keep = s.keep, wd = s.weight_decay;
    float* __restrict pp = p;
    const float* __restrict gg = g;
    float* __restrict bb = b;
    for (int64_t i = begin; i < end; ++i) {
      float d = gg[i];
      if constexpr (kDecay) d = d + wd * pp[i];
      if constexpr (kMomentum) {
        float buffer = d;
        if constexpr (!kFirst) buffer = bb[i] * mu + keep * d;
        bb[i] = buffer;
        if constexpr (kNesterov) {
          d = d + mu * buffer;
        } else {
          d = buffer;
        }
      }
      pp[i] = pp[i] - lr * d;
    }
  });
}

void sgd_update(float* p, const float* g, float* b, int64_t n, SgdScalars s, bool first,
                bool nesterov) {
  const bool decay = s.weight_decay != 0;
  if (b == nullptr) {
    if (decay) return sgd_loop<true, false, false, false>(p, g, b, n, s);
    return sgd_loop<false, false, false, false>(p, g, b, n, s);
  }
#define NOSHARING_SGD_CASE(D, F, N) \
  if (decay == D && first == F && nesterov == N) return sgd_loop<D, true, F, N>(p, g, b, n, s);
  NOSHARING_SGD_CASE(true, true, true)
  NOSHARING_SGD_CASE(true, true, false)
  NOSHARING_SGD_CASE(true, false, true)
  NOSHARING_SGD_CASE(true, false, false)
  NOSHARING_SGD_CASE(false, true, true)
  NOSHARING_SGD_CASE(false, true, false)
  NOSHARING_SGD_CASE(false, false, true)
  NOSHARING_SGD_CASE(false, false, false)
#undef NOSHARING_SGD_CASE
}

// LibTorch's AdamW step on one parameter, element by element:
//   p = p(1 − ηλ);  m = β1 m + (1 − β1)g;  v = β2 v + (1 − β2)g²;
//   p = p − (η/c1) · m / (√v/√c2 + ε),  c_k = 1 − β_k^t.
struct AdamWScalars {
  float decay, beta1, beta2, one_minus_beta1, one_minus_beta2, eps, sqrt_c2, step_size;
};

void adamw_update(float* __restrict p, const float* __restrict g, float* __restrict m,
                  float* __restrict v, int64_t n, AdamWScalars s) {
  at::parallel_for(0, n, kGrain, [=](int64_t begin, int64_t end) NOSHARING_VECTORISED {
    const float decay = s.decay, b1 = s.beta1, b2 = s.beta2, eps = s.eps;
    const float one_b1 = s.one_minus_beta1, one_b2 = s.one_minus_beta2, sqrt_c2 = s.sqrt_c2;
    const float step = s.step_size;
    float* __restrict pp = p;
    const float* __restrict gg = g;
    float* __restrict mm = m;
    float* __restrict vv = v;
    for (int64_t i = begin; i < end; ++i) {
      const float gi = gg[i];
      const float pi = pp[i] * decay;
      const float mi = mm[i] * b1 + one_b1 * gi;
      const float vi = vv[i] * b2 + one_b2 * (gi * gi);
      mm[i] = mi;
      vv[i] = vi;
      pp[i] = pi - step * (mi / (std::sqrt(vi) / sqrt_c2 + eps));
    }
  });
}

// The closure (re-evaluating the loss) runs with gradients on, as LibTorch's optimisers run it.
torch::Tensor evaluate_closure(const torch::optim::Optimizer::LossClosure& closure) {
  if (closure == nullptr) return {};
  at::AutoGradMode enable_grad(true);
  return closure();
}

}  // namespace

torch::Tensor FusedSGD::step(LossClosure closure) {
  if (!all_fusable(param_groups_)) return torch::optim::SGD::step(std::move(closure));
  const torch::Tensor loss = evaluate_closure(closure);
  torch::NoGradGuard no_grad;
  for (auto& group : param_groups_) {
    const auto& options = static_cast<torch::optim::SGDOptions&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const SgdScalars s{static_cast<float>(options.lr()), static_cast<float>(options.momentum()),
                         static_cast<float>(1 - options.dampening()),
                         static_cast<float>(options.weight_decay())};
      bool first = false;
      float* buffer = nullptr;
      if (options.momentum() != 0) {
        const std::string key = state_key(p);
        auto it = state_.find(key);
        if (it == state_.end()) {
          auto state = std::make_unique<torch::optim::SGDParamState>();
          state->momentum_buffer(torch::empty_like(p, at::MemoryFormat::Contiguous));
          it = state_.emplace(key, std::move(state)).first;
          first = true;
        }
        torch::Tensor& b =
            static_cast<torch::optim::SGDParamState&>(*it->second).momentum_buffer();
        if (!b.is_contiguous() || b.scalar_type() != at::kFloat) b = b.contiguous().to(at::kFloat);
        buffer = b.data_ptr<float>();
      }
      sgd_update(p.data_ptr<float>(), p.grad().data_ptr<float>(), buffer, p.numel(), s, first,
                 options.nesterov());
      p.unsafeGetTensorImpl()->bump_version();  // as an in-place op would
    }
  }
  return loss;
}

torch::Tensor FusedAdamW::step(LossClosure closure) {
  bool amsgrad = false;
  for (const auto& group : param_groups_) {
    amsgrad = amsgrad || static_cast<const torch::optim::AdamWOptions&>(group.options()).amsgrad();
  }
  if (amsgrad || !all_fusable(param_groups_)) return torch::optim::AdamW::step(std::move(closure));
  const torch::Tensor loss = evaluate_closure(closure);
  torch::NoGradGuard no_grad;
  for (auto& group : param_groups_) {
    const auto& options = static_cast<torch::optim::AdamWOptions&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const std::string key = state_key(p);
      auto it = state_.find(key);
      if (it == state_.end()) {
        auto state = std::make_unique<torch::optim::AdamWParamState>();
        state->step(0);
        state->exp_avg(torch::zeros_like(p, at::MemoryFormat::Contiguous));
        state->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Contiguous));
        it = state_.emplace(key, std::move(state)).first;
      }
      auto& state = static_cast<torch::optim::AdamWParamState&>(*it->second);
      for (torch::Tensor* t : {&state.exp_avg(), &state.exp_avg_sq()}) {
        if (!t->is_contiguous() || t->scalar_type() != at::kFloat) *t = t->contiguous().to(at::kFloat);
      }
      state.step(state.step() + 1);
      const double beta1 = std::get<0>(options.betas());
      const double beta2 = std::get<1>(options.betas());
      const double c1 = 1 - std::pow(beta1, static_cast<double>(state.step()));
      const double c2 = 1 - std::pow(beta2, static_cast<double>(state.step()));
      AdamWScalars s{static_cast<float>(options.weight_decay() != 0
                                            ? 1 - options.lr() * options.weight_decay()
                                            : 1.0),
                     static_cast<float>(beta1), static_cast<float>(beta2),
                     static_cast<float>(1 - beta1), static_cast<float>(1 - beta2),
                     static_cast<float>(options.eps()), static_cast<float>(std::sqrt(c2)),
                     static_cast<float>(options.lr() / c1)};
      adamw_update(p.data_ptr<float>(), p.grad().data_ptr<float>(),
                   state.exp_avg().data_ptr<float>(), state.exp_avg_sq().data_ptr<float>(),
                   p.numel(), s);
      p.unsafeGetTensorImpl()->bump_version();
    }
  }
  return loss;
}

}  // namespace nosharing
