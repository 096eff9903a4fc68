#include "nosharing/topography/lateral_interaction.h"

#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "nosharing/core/error.h"

namespace nosharing {

double lateral_centre_sigma(double spacing, double surround) {
  TORCH_CHECK(spacing > 2, "lateral_interaction: spacing ", spacing,
              " sheet cells; expected > 2");
  TORCH_CHECK(surround > 1, "lateral_interaction: surround ratio ", surround, "; expected > 1");
  const double r2 = surround * surround;
  return spacing * std::sqrt(2 * std::log(r2) / (r2 - 1)) / (2 * M_PI);
}

torch::Tensor gaussian_mean_matrix(int64_t cells, double sigma) {
  TORCH_CHECK(cells >= 1, "gaussian_mean_matrix: ", cells, " cells; expected >= 1");
  TORCH_CHECK(sigma > 0, "gaussian_mean_matrix: sigma ", sigma, "; expected > 0");
  const torch::Tensor index = torch::arange(cells, torch::kFloat64);
  const torch::Tensor distance = index.unsqueeze(1) - index.unsqueeze(0);
  torch::Tensor taps = torch::exp(-distance.pow(2) / (2 * sigma * sigma));
  taps = taps * (distance.abs() <= 4 * sigma).to(torch::kFloat64);
  return taps / taps.sum(1, /*keepdim=*/true);
}

InteractionField parse_interaction_field(const std::string& name) {
  if (name == "kernels") return InteractionField::kKernels;
  if (name == "orientation") return InteractionField::kOrientation;
  throw_usage("topography.field = \"{}\": expected kernels or orientation", name);
}

MexicanHat mexican_hat(int64_t height, int64_t width, double spacing, double surround,
                       torch::Dtype dtype) {
  const double centre = lateral_centre_sigma(spacing, surround);
  MexicanHat hat;
  hat.centre_rows = gaussian_mean_matrix(height, centre).to(dtype);
  hat.centre_cols = gaussian_mean_matrix(width, centre).to(dtype).t().contiguous();
  hat.surround_rows = gaussian_mean_matrix(height, surround * centre).to(dtype);
  hat.surround_cols = gaussian_mean_matrix(width, surround * centre).to(dtype).t().contiguous();
  return hat;
}

torch::Tensor mexican_hat_energy(const torch::Tensor& field, const MexicanHat& hat) {
  TORCH_CHECK(field.dim() == 4, "lateral_interaction: expected grids [G, D, H, W], got ",
              field.sizes());
  TORCH_CHECK(hat.centre_rows.size(0) == field.size(2) && hat.centre_cols.size(0) == field.size(3),
              "lateral_interaction: a Mexican hat of ", hat.centre_rows.size(0), " × ",
              hat.centre_cols.size(0), " cells for grids ", field.sizes());
  // Stored transposed, so each mean is two plain products: M_rows · f · M_colsᵀ.
  const torch::Tensor centre = torch::matmul(torch::matmul(hat.centre_rows, field), hat.centre_cols);
  const torch::Tensor surround =
      torch::matmul(torch::matmul(hat.surround_rows, field), hat.surround_cols);
  return (field * (centre - surround)).sum(1).mean();
}

torch::Tensor mexican_hat_energy(const torch::Tensor& field, double spacing, double surround) {
  TORCH_CHECK(field.dim() == 4, "lateral_interaction: expected grids [G, D, H, W], got ",
              field.sizes());
  return mexican_hat_energy(
      field, mexican_hat(field.size(2), field.size(3), spacing, surround, field.scalar_type()));
}

torch::Tensor lateral_interaction_similarity(const torch::Tensor& x, double spacing,
                                             double surround) {
  TORCH_CHECK(x.dim() == 4, "lateral_interaction: expected grids [G, D, H, W], got ", x.sizes());
  return mexican_hat_energy(x / x.norm(2, /*dim=*/1, /*keepdim=*/true).clamp_min(1e-12), spacing,
                            surround);
}

namespace {

// The DFT of a k×k kernel zero-padded to n = 2k: phase [n², k²] = 2π f·x / n for every
// frequency f (wrapped to (−½, ½] cycles per pixel) and tap x; and the weights of z per
// frequency, doubled [n², 3] = (cos 2φ_f, sin 2φ_f, 1), 0 at DC (it has no direction).
struct KernelSpectrumBasis {
  torch::Tensor phase;
  torch::Tensor doubled;
};

KernelSpectrumBasis kernel_spectrum_basis(const torch::Tensor& weight, int64_t kernel) {
  TORCH_CHECK(weight.dim() == 3 && kernel >= 2 && weight.size(2) % (kernel * kernel) == 0,
              "kernel_orientation_vectors: expected weight [P, C, C_in·", kernel, "·", kernel,
              "], got ", weight.sizes());
  const int64_t n = 2 * kernel;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor f = torch::arange(n, opts);
  f = torch::where(f > n / 2, f - n, f);
  const torch::Tensor fy = f.view({n, 1}).expand({n, n}).reshape({-1});
  const torch::Tensor fx = f.view({1, n}).expand({n, n}).reshape({-1});
  const torch::Tensor tap = torch::arange(kernel, opts);
  const torch::Tensor ty = tap.view({kernel, 1}).expand({kernel, kernel}).reshape({-1});
  const torch::Tensor tx = tap.view({1, kernel}).expand({kernel, kernel}).reshape({-1});
  KernelSpectrumBasis basis;
  basis.phase =
      2 * M_PI * (fy.unsqueeze(1) * ty.unsqueeze(0) + fx.unsqueeze(1) * tx.unsqueeze(0)) / n;
  const torch::Tensor angle = torch::atan2(fy, fx);
  const torch::Tensor keep = (~((fy == 0) & (fx == 0))).to(torch::kFloat64);
  basis.doubled =
      torch::stack({torch::cos(2 * angle) * keep, torch::sin(2 * angle) * keep, keep}, 1);
  return basis;
}

// weight [P, C, C_in·k²] → [U, C_in, k²], units in (c, y, x) order.
torch::Tensor kernels_by_unit(const torch::Tensor& weight, int64_t kernel) {
  const int64_t units = weight.size(0) * weight.size(1);
  return weight.permute({1, 0, 2}).reshape({units, -1, kernel * kernel});
}

// z from the moments Σ_f g(f) P(f) for g = (cos 2φ, sin 2φ, 1): [U, 3] → [U, 2].
torch::Tensor orientation_from_moments(const torch::Tensor& moments) {
  return moments.narrow(1, 0, 2) / moments.narrow(1, 2, 1).clamp_min(1e-12);
}

}  // namespace

torch::Tensor kernel_orientation_forms(int64_t kernel) {
  // Σ_f g(f) P(f) is a quadratic form of the kernel: P(f) = Σ_{x,x'} w_x w_x' cos(θ_fx − θ_fx')
  // with θ = phase, so Σ_f g(f) P(f) = wᵀ A_g w, A_g = Cᵀ diag(g) C + Sᵀ diag(g) S
  // (C = cos θ, S = sin θ). Three k²×k² forms instead of 2n² = 8k² DFT coefficients per
  // kernel: about a third of the arithmetic of the reference, forward and backward.
  const KernelSpectrumBasis basis =
      kernel_spectrum_basis(torch::zeros({1, 1, kernel * kernel}, torch::kFloat64), kernel);
  const torch::Tensor c = torch::cos(basis.phase), s = torch::sin(basis.phase);  // [n², k²]
  std::vector<torch::Tensor> forms;
  for (int64_t g = 0; g < 3; ++g) {
    const torch::Tensor weights = basis.doubled.select(1, g).unsqueeze(1);  // [n², 1]
    forms.push_back(c.t().mm(weights * c) + s.t().mm(weights * s));         // [k², k²]
  }
  return torch::cat(forms, 1);  // [k², 3k²]
}

torch::Tensor kernel_orientation_vectors(const torch::Tensor& weight, int64_t kernel,
                                         const torch::Tensor& forms) {
  TORCH_CHECK(weight.dim() == 3 && kernel >= 2 && weight.size(2) % (kernel * kernel) == 0,
              "kernel_orientation_vectors: expected weight [P, C, C_in·", kernel, "·", kernel,
              "], got ", weight.sizes());
  const torch::Tensor w = kernels_by_unit(weight, kernel);  // [U, C_in, k²]
  const int64_t units = w.size(0), taps = kernel * kernel;
  const torch::Tensor moments =
      (torch::matmul(w, forms.to(weight.dtype())).view({units, -1, 3, taps}) * w.unsqueeze(2))
          .sum({1, 3});  // [U, 3]
  return orientation_from_moments(moments);
}

torch::Tensor kernel_orientation_vectors(const torch::Tensor& weight, int64_t kernel) {
  return kernel_orientation_vectors(weight, kernel, kernel_orientation_forms(kernel));
}

torch::Tensor kernel_orientation_vectors_reference(const torch::Tensor& weight, int64_t kernel) {
  const KernelSpectrumBasis basis = kernel_spectrum_basis(weight, kernel);
  const torch::Tensor dft = torch::cat({torch::cos(basis.phase), torch::sin(basis.phase)}, 0)
                                .to(weight.dtype());  // [2n², k²]
  const torch::Tensor w = kernels_by_unit(weight, kernel);
  const int64_t units = w.size(0), frequencies = basis.phase.size(0);
  const torch::Tensor power = torch::matmul(w, dft.t())
                                  .pow(2)
                                  .view({units, -1, 2, frequencies})
                                  .sum({1, 2});  // [U, n²]: P(f), summed over input channels
  return orientation_from_moments(torch::matmul(power, basis.doubled.to(weight.dtype())));
}

LateralInteractionLossImpl::LateralInteractionLossImpl(LateralInteractionLossOptions options)
    : options_(options) {
  lateral_centre_sigma(options_.spacing(), options_.surround());  // checks both
}

const LateralInteractionLossImpl::LayerConstants& LateralInteractionLossImpl::constants_of(
    const TopographicLayer& layer, int64_t height, int64_t width) {
  const auto key = std::make_tuple(layer.name, height, width, layer.kernel,
                                   static_cast<int>(layer.weight.scalar_type()));
  auto cached = constants_.find(key);
  if (cached == constants_.end()) {
    LayerConstants constants;
    constants.hat = mexican_hat(height, width, options_.spacing(), options_.surround(),
                                layer.weight.scalar_type());
    if (options_.field() == InteractionField::kOrientation) {
      constants.forms = kernel_orientation_forms(layer.kernel).to(layer.weight.scalar_type());
    }
    cached = constants_.emplace(key, std::move(constants)).first;
  }
  return cached->second;
}

torch::Tensor LateralInteractionLossImpl::forward(const TopographicLayer& layer) {
  const bool orientation = options_.field() == InteractionField::kOrientation;
  const torch::Tensor grids = layer.sheet.grids();  // [G, H, W]
  const LayerConstants& constants = constants_of(layer, grids.size(1), grids.size(2));
  const torch::Tensor vectors =
      orientation ? kernel_orientation_vectors(layer.weight, layer.kernel, constants.forms)
                  : normalize_rows(unit_weight_vectors(
                        layer.weight, options_.include_bias() ? layer.bias : torch::Tensor()));
  const torch::Tensor x = vectors.index_select(0, grids.reshape({-1}))
                              .view({grids.size(0), grids.size(1), grids.size(2), -1})
                              .permute({0, 3, 1, 2});  // [G, D, H, W]
  return (1 - mexican_hat_energy(x, constants.hat)) / 2;
}

}  // namespace nosharing
