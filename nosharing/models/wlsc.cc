#include "nosharing/models/wlsc.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "nosharing/core/enum_names.h"
#include "nosharing/core/error.h"
#include "nosharing/models/sheet_laplacian.h"

namespace nosharing {

WlscOptions::WlscOptions(int64_t patch_dim, int64_t atoms)
    : patch_dim_(patch_dim), atoms_(atoms) {}

WlscOptions WlscOptions::from_config(const Config& config, const InputShape& input) {
  WlscOptions o(input.channels * input.height * input.width, config.get_int("wlsc.atoms"));
  o.steps(config.get_int("wlsc.steps"))
      .step_scale(config.get_double("wlsc.step_scale"))
      .lambda(config.get_double("wlsc.lambda"))
      .beta(config.get_double("wlsc.beta"))
      .nonnegative(config.get_bool("wlsc.nonnegative"))
      .radius(config.get_double("wlsc.radius"))
      .sigma(config.get_double("wlsc.sigma"));
  constexpr EnumName<WlscEncoder> kEncoders[] = {
      {"ista", WlscEncoder::kIsta}, {"fista", WlscEncoder::kFista}, {"lista", WlscEncoder::kLista}};
  constexpr EnumName<WlscStepSize> kStepSizes[] = {{"fixed", WlscStepSize::kFixed},
                                                   {"learned", WlscStepSize::kLearned},
                                                   {"learned_per_step", WlscStepSize::kLearnedPerStep}};
  constexpr EnumName<WlscGradient> kGradients[] = {{"unrolled", WlscGradient::kUnrolled},
                                                   {"fixed_codes", WlscGradient::kFixedCodes}};
  o.encoder(get_enum(config, "wlsc.encoder", kEncoders));
  o.step_size(get_enum(config, "wlsc.step_size", kStepSizes));
  o.gradient(get_enum(config, "wlsc.gradient", kGradients));
  for (const std::string& form : config.get_string_list("wlsc.laplacian")) {
    if (form == "atoms") {
      o.atoms_form(true);
    } else if (form == "codes") {
      o.codes_form(true);
    } else if (form == "bipartite") {
      o.bipartite_form(true);
    } else {
      throw_usage("wlsc.laplacian: \"{}\" is not a Laplacian form; expected a list of atoms, "
                  "codes, bipartite",
                  form);
    }
  }
  return o;
}

WlscImpl::WlscImpl(WlscOptions options) : options_(std::move(options)) {
  const WlscOptions& o = options_;
  if (o.patch_dim() < 1) throw_usage("wlsc: patch dimension {} (C·H·W), expected ≥ 1", o.patch_dim());
  side_ = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(o.atoms()))));
  if (o.atoms() < 1 || side_ * side_ != o.atoms()) {
    throw_usage("wlsc.atoms = {}: expected a perfect square (the atoms tile a √N×√N sheet)",
                o.atoms());
  }
  if (o.steps() < 1) throw_usage("wlsc.steps = {}: expected ≥ 1", o.steps());
  if (!(o.lambda() >= 0)) throw_usage("wlsc.lambda = {}: expected ≥ 0", o.lambda());
  if (!(o.beta() >= 0)) throw_usage("wlsc.beta = {}: expected ≥ 0", o.beta());
  if (!(o.step_scale() > 0)) {
    throw_usage("wlsc.step_scale = {}: expected > 0 (≤ 1 guarantees descent)", o.step_scale());
  }
  if (o.bipartite_form() && !o.nonnegative()) {
    throw_usage("wlsc.laplacian includes \"bipartite\": Σ_j x_j‖y − a_j‖² is a Laplacian form "
                "only for x ≥ 0; set wlsc.nonnegative = true");
  }
  if (o.encoder() == WlscEncoder::kLista) {
    if (o.step_size() != WlscStepSize::kFixed) {
      throw_usage("wlsc.step_size: learned step sizes are for wlsc.encoder = \"ista\"; LISTA "
                  "learns its whole step (expected step_size = \"fixed\")");
    }
    if (o.gradient() == WlscGradient::kFixedCodes) {
      throw_usage("wlsc.gradient = \"fixed_codes\" would leave LISTA's encoder untrained; "
                  "expected unrolled with wlsc.encoder = \"lista\"");
    }
  }

  const int64_t d = o.patch_dim(), n = o.atoms();
  // V ~ N(0, 1/D): columns of about unit norm, so that an optimiser step of a given size
  // turns an atom by a similar angle whatever D is.
  weight_ = register_parameter("dictionary", torch::randn({d, n}) / std::sqrt(static_cast<double>(d)));
  const torch::Tensor w = sheet_neighbour_weights(side_, o.radius(), o.sigma());
  const torch::Tensor lap = graph_laplacian(w);
  laplacian_max_ = laplacian_max_eigenvalue(lap);
  laplacian_ = register_buffer("laplacian", lap.to(torch::kFloat32));
  stencil_ = sheet_stencil(side_, o.radius(), o.sigma());
  if (o.step_size() == WlscStepSize::kLearned) {
    log_steps_ = register_parameter("log_step", torch::zeros({1}));
  } else if (o.step_size() == WlscStepSize::kLearnedPerStep) {
    log_steps_ = register_parameter("log_step", torch::zeros({o.steps()}));
  }
  if (o.encoder() == WlscEncoder::kLista) {
    torch::NoGradGuard no_grad;
    const torch::Tensor a = dictionary();
    const double eta = 1.0 / lipschitz(a).item<double>();
    torch::Tensor s = torch::eye(n) - eta * a.t().mm(a);
    if (o.codes_form()) s = s - 2 * eta * o.beta() * laplacian_;
    encoder_weight_ = register_parameter("encoder_weight", eta * a.t().contiguous());
    lateral_ = register_parameter("lateral", s);
    threshold_ = register_parameter("threshold", torch::full({n}, eta * o.lambda()));
  }
}

torch::Tensor WlscImpl::unit_atoms(const torch::Tensor& weight) {
  return weight / weight.norm(2, {0}, true);
}

torch::Tensor WlscImpl::dictionary() const { return unit_atoms(weight_); }

torch::Tensor WlscImpl::lipschitz(const torch::Tensor& dictionary) const {
  torch::Tensor l = at::linalg_svdvals(dictionary).max().pow(2);
  if (options_.codes_form()) l = l + 2 * options_.beta() * laplacian_max_;
  return l;
}

torch::Tensor WlscImpl::step_scale(int64_t step) const {
  if (options_.step_size() == WlscStepSize::kFixed) {
    return torch::full({}, options_.step_scale(), weight_.options());
  }
  const int64_t i = options_.step_size() == WlscStepSize::kLearned ? 0 : step;
  return log_steps_[i].exp();
}

torch::Tensor WlscImpl::shrink(const torch::Tensor& values, const torch::Tensor& threshold) const {
  if (options_.nonnegative()) return torch::relu(values - threshold);
  return values.sign() * torch::relu(values.abs() - threshold);
}

torch::Tensor WlscImpl::encode(const torch::Tensor& data, const torch::Tensor& dictionary,
                               const torch::Tensor& initial, int64_t steps) {
  const WlscOptions& o = options_;
  const int64_t batch = data.size(0);
  if (steps < 0) steps = o.steps();
  torch::Tensor x =
      initial.defined() ? initial : torch::zeros({batch, o.atoms()}, data.options());
  if (o.encoder() == WlscEncoder::kLista) {
    const torch::Tensor drive = data.mm(encoder_weight_.t());  // W_e y, [B, N]
    const torch::Tensor theta = threshold_.clamp_min(0);
    for (int64_t k = 0; k < steps; ++k) x = shrink(drive + x.mm(lateral_.t()), theta);
    return x;
  }
  const torch::Tensor inverse_l = lipschitz(dictionary).reciprocal();
  // The bipartite term's gradient β‖y − a_j‖² does not depend on x: computed once.
  torch::Tensor linear;
  if (o.bipartite_form() && o.beta() > 0) {
    linear = o.beta() * (data.pow(2).sum(1, true) - 2 * data.mm(dictionary) +
                         dictionary.pow(2).sum(0, true));
  }
  // ∇f = Aᵀ(Ax − y) (+ 2βLx) (+ β‖y − a_j‖²). The Gram form x·AᵀA − Aᵀy is one GEMM of
  // B·N² per step, the residual form two of B·N·D: the Gram form is cheaper while N < 2D
  // (N ≈ D: 16×16 atoms of 12×12 patches), the residual form beyond (1024 atoms of 144
  // pixels: 3.6× fewer operations). Lx goes through the sheet stencil, O(B·N·k²).
  const bool gram_form = o.atoms() < 2 * o.patch_dim();
  const torch::Tensor drive = gram_form ? data.mm(dictionary) : torch::Tensor();  // Aᵀy
  const torch::Tensor gram = gram_form ? dictionary.t().mm(dictionary) : torch::Tensor();
  const torch::Tensor atoms_t = gram_form ? torch::Tensor() : dictionary.t();
  // FISTA takes the step at the extrapolated point z (ISTA: z = x); t is its momentum clock.
  const bool momentum = o.encoder() == WlscEncoder::kFista;
  torch::Tensor z = x;
  double t = 1;
  for (int64_t k = 0; k < steps; ++k) {
    const torch::Tensor eta = step_scale(k) * inverse_l;
    torch::Tensor gradient = gram_form ? z.mm(gram) - drive : (z.mm(atoms_t) - data).mm(dictionary);
    if (o.codes_form() && o.beta() > 0) {
      gradient = gradient + 2 * o.beta() * apply_sheet_laplacian(z, stencil_);
    }
    if (linear.defined()) gradient = gradient + linear;
    const torch::Tensor next = shrink(z - eta * gradient, eta * o.lambda());
    if (momentum) {
      const double t_next = 0.5 * (1 + std::sqrt(1 + 4 * t * t));
      z = next + ((t - 1) / t_next) * (next - x);
      t = t_next;
    } else {
      z = next;
    }
    x = next;
  }
  return x;
}

torch::Tensor WlscImpl::forward(torch::Tensor images) {
  const torch::Tensor data = images.reshape({images.size(0), -1});
  TORCH_CHECK(data.size(1) == options_.patch_dim(), "wlsc: inputs of ", data.size(1),
              " values (C·H·W), expected ", options_.patch_dim());
  return encode(data, dictionary());
}

torch::Tensor WlscImpl::code_objective(const torch::Tensor& data, const torch::Tensor& dictionary,
                                       const torch::Tensor& codes) const {
  const WlscOptions& o = options_;
  torch::Tensor f = 0.5 * (data - codes.mm(dictionary.t())).pow(2).sum(1) +
                    o.lambda() * codes.abs().sum(1);
  if (o.codes_form()) f = f + o.beta() * code_laplacian_form(codes, stencil_);
  if (o.bipartite_form()) f = f + o.beta() * bipartite_form(data, dictionary, codes);
  if (o.nonnegative()) {
    const torch::Tensor infeasible = (codes < 0).any(1);
    f = torch::where(infeasible, torch::full_like(f, std::numeric_limits<double>::infinity()), f);
  }
  return f;
}

WlscTerms WlscImpl::terms(const torch::Tensor& data, const torch::Tensor& dictionary,
                          const torch::Tensor& codes) const {
  const WlscOptions& o = options_;
  WlscTerms t;
  t.reconstruction = 0.5 * (data - codes.mm(dictionary.t())).pow(2).sum(1).mean();
  t.l1 = codes.abs().sum(1).mean();
  // tr(A L Aᵀ) = Σ over A's rows r of rᵀ L r: the rows of A [D, N] are sheet maps too.
  if (o.atoms_form()) t.atoms = code_laplacian_form(dictionary, stencil_).sum();
  if (o.codes_form()) t.codes = code_laplacian_form(codes, stencil_).mean();
  if (o.bipartite_form()) t.bipartite = bipartite_form(data, dictionary, codes).mean();
  return t;
}

ModelObjective WlscImpl::own_objective(const torch::Tensor& images) {
  return objective(weight_, images);
}

ModelObjective WlscImpl::objective(const torch::Tensor& weight, const torch::Tensor& images) {
  const torch::Tensor data = images.reshape({images.size(0), -1});
  TORCH_CHECK(data.size(1) == options_.patch_dim(), "wlsc: inputs of ", data.size(1),
              " values (C·H·W), expected ", options_.patch_dim());
  const torch::Tensor a = unit_atoms(weight);
  torch::Tensor codes;
  if (options_.gradient() == WlscGradient::kFixedCodes) {
    torch::NoGradGuard no_grad;
    codes = encode(data, a.detach());
  } else {
    codes = encode(data, a);
  }
  const WlscTerms t = terms(data, a, codes);
  const double beta = options_.beta();
  ModelObjective objective;
  const torch::Tensor sparsity = options_.lambda() * t.l1;
  objective.task = t.reconstruction + sparsity;
  objective.total = objective.task;
  objective.terms.emplace_back("recon", t.reconstruction);
  objective.terms.emplace_back("sparsity", sparsity);
  const std::pair<const char*, const torch::Tensor*> forms[] = {
      {"laplacian/atoms", &t.atoms}, {"laplacian/codes", &t.codes},
      {"laplacian/bipartite", &t.bipartite}};
  for (const auto& [name, value] : forms) {
    if (!value->defined()) continue;
    objective.total = objective.total + beta * *value;
    objective.terms.emplace_back(name, beta * *value);
  }
  objective.terms.emplace_back("active", codes.detach().ne(0).to(data.dtype()).mean());
  return objective;
}

}  // namespace nosharing
