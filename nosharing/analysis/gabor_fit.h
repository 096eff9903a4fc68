// Least-squares fit of a 2-D Gabor function to a small image (a `wlsc` dictionary atom),
// the standard description of V1 simple-cell receptive fields (Jones & Palmer 1987) and of
// sparse-coding atoms (Olshausen & Field 1996).
//
// Model, pixel (x = column, y = row; y drawn downwards):
//   p =  (x − x₀) cos θ + (y − y₀) sin θ      (along the wave vector)
//   q = −(x − x₀) sin θ + (y − y₀) cos θ      (along the stripes)
//   g(x, y) = a · exp(−p²/2σ_p² − q²/2σ_q²) · cos(2π f p + φ)
// Parameters are reported canonically: a > 0, f ≥ 0 (cycles per pixel), θ ∈ [0, π) — the
// direction of the wave vector, which equals the orientation θ of the grating
// cos(2π f (x cos θ + y sin θ)) that drives the atom best — φ ∈ [0, 2π), σ_p, σ_q > 0
// (pixels). No constant offset: atoms of DC-free (whitened) patches have none.
//
// Fitting (our choices): Levenberg–Marquardt on the 8 parameters (σ as log σ), central-
// difference Jacobian, from several starts — frequency and θ from the peak of the image's
// Fourier amplitude over a grid of the half plane (step 1/(2·side)), centre and spread from the energy
// (image²) centroid and second moment, phase from the demodulated sum, each start with
// σ scaled by 0.6, 1 and 1.6 — keeping the lowest residual.
// Quality: R² = 1 − Σ(image − g)² / Σ(image − mean)².
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace nosharing {

struct GaborParams {
  double amplitude = 1;
  double x0 = 0, y0 = 0;      // centre, pixels (x = column, y = row)
  double orientation = 0;     // θ, radians in [0, π)
  double frequency = 0.1;     // f, cycles per pixel
  double phase = 0;           // φ, radians in [0, 2π)
  double sigma_p = 2;         // envelope σ along the wave vector, pixels
  double sigma_q = 2;         // envelope σ along the stripes, pixels
};

struct GaborFit {
  GaborParams params;
  double r2 = 0;  // fit quality
};

// g evaluated on an height × width grid → float64 [height, width].
torch::Tensor render_gabor(const GaborParams& params, int64_t height, int64_t width);

// image [H, W] (any float dtype) → the best fit. A constant image gives r2 = 0.
GaborFit fit_gabor(const torch::Tensor& image);

// atoms [N, H, W] → one fit each, computed in parallel over atoms.
std::vector<GaborFit> fit_gabors(const torch::Tensor& atoms);

// The "good Gabor" criterion the wlsc analysis reports: r2 ≥ min_r2 and the centre inside
// the image (0 ≤ x₀ ≤ W − 1, 0 ≤ y₀ ≤ H − 1).
bool is_good_gabor(const GaborFit& fit, int64_t height, int64_t width, double min_r2);

}  // namespace nosharing
