#include "nosharing/layers/factorised_head.h"

#include <ATen/ATen.h>

#include <cmath>

namespace nosharing {

FactorisedHeadOptions::FactorisedHeadOptions(int64_t columns, int64_t dim, int64_t classes)
    : columns_(columns), dim_(dim), classes_(classes) {}

torch::Tensor factorised_head(const torch::Tensor& x, const torch::Tensor& u,
                              const torch::Tensor& v, const torch::Tensor& b) {
  TORCH_CHECK(x.dim() == 3 && u.dim() == 2 && v.dim() == 2 && u.size(0) == v.size(0) &&
                  u.size(1) == x.size(1) && v.size(1) == x.size(2),
              "factorised head: x [B, L, D] ", x.sizes(), ", u [C, L] ", u.sizes(),
              " and v [C, D] ", v.sizes(), " do not fit");
  TORCH_CHECK(!b.defined() || (b.dim() == 1 && b.size(0) == u.size(0)), "factorised head: bias ",
              b.sizes(), " is not [C] for C = ", u.size(0));
  // s_bic = v_c · x_bi: one GEMM [B·L, D] × [D, C]; then Σ_i u_ci s_bic. Cost B·L·C·(D + 1),
  // the same as the dense head it equals.
  const torch::Tensor scores = at::matmul(x, v.t());            // [B, L, C]
  torch::Tensor logits = (scores * u.t().unsqueeze(0)).sum(1);  // [B, C]
  if (b.defined()) logits = logits + b;
  return logits;
}

FactorisedHeadImpl::FactorisedHeadImpl(FactorisedHeadOptions options_)
    : options(std::move(options_)) {
  reset();
}

void FactorisedHeadImpl::reset() {
  TORCH_CHECK(options.columns() >= 1 && options.dim() >= 1 && options.classes() >= 1,
              "FactorisedHead: columns ", options.columns(), ", dim ", options.dim(), ", classes ",
              options.classes(), "; expected all >= 1");
  u = register_parameter("u", torch::empty({options.classes(), options.columns()}));
  v = register_parameter("v", torch::empty({options.classes(), options.dim()}));
  bias = register_parameter("bias", torch::empty({options.classes()}));
  reset_parameters();
}

void FactorisedHeadImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  u.fill_(1.0 / static_cast<double>(options.columns()));
  const double bound = 1.0 / std::sqrt(static_cast<double>(options.dim()));
  v.uniform_(-bound, bound);
  bias.zero_();
}

torch::Tensor FactorisedHeadImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 3 && x.size(1) == options.columns() && x.size(2) == options.dim(),
              "FactorisedHead: expected x [B, ", options.columns(), ", ", options.dim(), "], got ",
              x.sizes());
  return factorised_head(x, u, v, bias);
}

torch::Tensor FactorisedHeadImpl::dense_weight() const {
  return (u.unsqueeze(2) * v.unsqueeze(1)).reshape({options.classes(), -1});
}

void FactorisedHeadImpl::pretty_print(std::ostream& stream) const {
  stream << "nosharing::FactorisedHead(columns=" << options.columns() << ", dim=" << options.dim()
         << ", classes=" << options.classes() << ")";
}

}  // namespace nosharing
