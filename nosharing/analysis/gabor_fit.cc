#include "nosharing/analysis/gabor_fit.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <limits>

namespace nosharing {
namespace {

constexpr int kParams = 8;  // a, x0, y0, θ, f, φ, log σ_p, log σ_q
using Vector = std::array<double, kParams>;

GaborParams to_params(const Vector& v) {
  GaborParams p;
  p.amplitude = v[0];
  p.x0 = v[1];
  p.y0 = v[2];
  p.orientation = v[3];
  p.frequency = v[4];
  p.phase = v[5];
  p.sigma_p = std::exp(v[6]);
  p.sigma_q = std::exp(v[7]);
  return p;
}

Vector to_vector(const GaborParams& p) {
  return {p.amplitude, p.x0, p.y0, p.orientation, p.frequency, p.phase, std::log(p.sigma_p),
          std::log(p.sigma_q)};
}

void render(const Vector& v, int h, int w, double* out) {
  const double c = std::cos(v[3]), s = std::sin(v[3]);
  const double sp = std::exp(v[6]), sq = std::exp(v[7]);
  const double ip = 1.0 / (2 * sp * sp), iq = 1.0 / (2 * sq * sq);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const double dx = x - v[1], dy = y - v[2];
      const double p = dx * c + dy * s, q = -dx * s + dy * c;
      out[y * w + x] = v[0] * std::exp(-p * p * ip - q * q * iq) *
                       std::cos(2 * M_PI * v[4] * p + v[5]);
    }
  }
}

double sum_squares(const Vector& v, const std::vector<double>& image, int h, int w,
                   std::vector<double>& scratch) {
  render(v, h, w, scratch.data());
  double sse = 0;
  for (size_t i = 0; i < image.size(); ++i) {
    const double r = scratch[i] - image[i];
    sse += r * r;
  }
  return sse;
}

// Solves (M) δ = b for a symmetric positive definite 8×8 M by Gaussian elimination with
// partial pivoting; false if singular.
bool solve(std::array<std::array<double, kParams>, kParams> m, Vector b, Vector& out) {
  for (int col = 0; col < kParams; ++col) {
    int pivot = col;
    for (int r = col + 1; r < kParams; ++r)
      if (std::abs(m[r][col]) > std::abs(m[pivot][col])) pivot = r;
    if (std::abs(m[pivot][col]) < 1e-300) return false;
    std::swap(m[col], m[pivot]);
    std::swap(b[col], b[pivot]);
    for (int r = col + 1; r < kParams; ++r) {
      const double f = m[r][col] / m[col][col];
      for (int k = col; k < kParams; ++k) m[r][k] -= f * m[col][k];
      b[r] -= f * b[col];
    }
  }
  for (int r = kParams - 1; r >= 0; --r) {
    double s = b[r];
    for (int k = r + 1; k < kParams; ++k) s -= m[r][k] * out[k];
    out[r] = s / m[r][r];
  }
  return true;
}

// Levenberg–Marquardt from `start`; returns the final parameters and their SSE.
std::pair<Vector, double> levenberg_marquardt(Vector v, const std::vector<double>& image, int h,
                                              int w) {
  const size_t n = image.size();
  std::vector<double> model(n), plus(n), minus(n), scratch(n);
  std::vector<Vector> jacobian(n);
  double sse = sum_squares(v, image, h, w, scratch);
  double mu = 1e-3;
  // log σ stays within [log 0.3, log 4·side]: an envelope below a third of a pixel or far
  // beyond the image is not identifiable from the pixels.
  const double log_sigma_min = std::log(0.3), log_sigma_max = std::log(4.0 * std::max(h, w));
  for (int iteration = 0; iteration < 200; ++iteration) {
    render(v, h, w, model.data());
    for (int k = 0; k < kParams; ++k) {
      const double step = 1e-6 * std::max(1.0, std::abs(v[k]));
      Vector vp = v, vm = v;
      vp[k] += step;
      vm[k] -= step;
      render(vp, h, w, plus.data());
      render(vm, h, w, minus.data());
      for (size_t i = 0; i < n; ++i) jacobian[i][k] = (plus[i] - minus[i]) / (2 * step);
    }
    std::array<std::array<double, kParams>, kParams> jtj{};
    Vector jtr{};
    for (size_t i = 0; i < n; ++i) {
      const double r = model[i] - image[i];
      for (int a = 0; a < kParams; ++a) {
        jtr[a] += jacobian[i][a] * r;
        for (int b = a; b < kParams; ++b) jtj[a][b] += jacobian[i][a] * jacobian[i][b];
      }
    }
    for (int a = 0; a < kParams; ++a)
      for (int b = 0; b < a; ++b) jtj[a][b] = jtj[b][a];
    bool improved = false;
    for (int attempt = 0; attempt < 12 && !improved; ++attempt) {
      auto m = jtj;
      for (int a = 0; a < kParams; ++a) m[a][a] += mu * std::max(jtj[a][a], 1e-12);
      Vector delta{}, minus_jtr;
      for (int a = 0; a < kParams; ++a) minus_jtr[a] = -jtr[a];
      if (!solve(m, minus_jtr, delta)) {
        mu *= 10;
        continue;
      }
      Vector candidate = v;
      for (int a = 0; a < kParams; ++a) candidate[a] += delta[a];
      candidate[6] = std::clamp(candidate[6], log_sigma_min, log_sigma_max);
      candidate[7] = std::clamp(candidate[7], log_sigma_min, log_sigma_max);
      const double candidate_sse = sum_squares(candidate, image, h, w, scratch);
      if (candidate_sse < sse) {
        const double gain = sse - candidate_sse;
        v = candidate;
        sse = candidate_sse;
        mu = std::max(mu / 3, 1e-9);
        improved = true;
        if (gain < 1e-12 * (1 + sse)) return {v, sse};
      } else {
        mu *= 4;
      }
    }
    if (!improved) break;
  }
  return {v, sse};
}

// a > 0, f ≥ 0, θ ∈ [0, π), φ ∈ [0, 2π) describing the same function.
GaborParams canonical(GaborParams p) {
  auto wrap = [](double angle, double period) {
    angle = std::fmod(angle, period);
    return angle < 0 ? angle + period : angle;
  };
  if (p.amplitude < 0) {
    p.amplitude = -p.amplitude;
    p.phase += M_PI;
  }
  if (p.frequency < 0) {  // cos(−2πf p + φ) = cos(2πf p − φ)
    p.frequency = -p.frequency;
    p.phase = -p.phase;
  }
  p.orientation = wrap(p.orientation, 2 * M_PI);
  if (p.orientation >= M_PI) {  // θ + π flips p: the same as φ → −φ
    p.orientation -= M_PI;
    p.phase = -p.phase;
  }
  p.phase = wrap(p.phase, 2 * M_PI);
  return p;
}

}  // namespace

torch::Tensor render_gabor(const GaborParams& params, int64_t height, int64_t width) {
  torch::Tensor out = torch::empty({height, width}, torch::kFloat64);
  render(to_vector(params), static_cast<int>(height), static_cast<int>(width),
         out.data_ptr<double>());
  return out;
}

GaborFit fit_gabor(const torch::Tensor& image_tensor) {
  const torch::Tensor image_t = image_tensor.to(torch::kFloat64).contiguous();
  const int h = static_cast<int>(image_t.size(0)), w = static_cast<int>(image_t.size(1));
  const double* data = image_t.data_ptr<double>();
  std::vector<double> image(data, data + h * w);
  double mean = 0;
  for (double v : image) mean += v;
  mean /= static_cast<double>(image.size());
  double total = 0;
  for (double v : image) total += (v - mean) * (v - mean);
  GaborFit best;
  if (!(total > 0)) return best;

  // Energy centroid and spread.
  double energy = 0, cx = 0, cy = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double e = image[y * w + x] * image[y * w + x];
      energy += e;
      cx += e * x;
      cy += e * y;
    }
  cx /= energy;
  cy /= energy;
  double spread = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      spread += image[y * w + x] * image[y * w + x] * ((x - cx) * (x - cx) + (y - cy) * (y - cy));
  const double sigma0 = std::clamp(std::sqrt(spread / energy / 2), 0.8, 0.5 * std::max(h, w));

  // Fourier amplitude peak over the half plane fy ≥ 0, at 1/(2·side) resolution (LM
  // refines it).
  const int grid = 2 * std::max(h, w);
  double best_amplitude = -1, fx0 = 0, fy0 = 0;
  for (int iy = 0; iy <= grid / 2; ++iy) {
    for (int ix = -grid / 2; ix <= grid / 2; ++ix) {
      if (iy == 0 && ix <= 0) continue;
      const double fx = static_cast<double>(ix) / grid, fy = static_cast<double>(iy) / grid;
      std::complex<double> sum = 0;
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          sum += image[y * w + x] * std::polar(1.0, -2 * M_PI * (fx * x + fy * y));
      if (std::abs(sum) > best_amplitude) {
        best_amplitude = std::abs(sum);
        fx0 = fx;
        fy0 = fy;
      }
    }
  }
  const double f0 = std::hypot(fx0, fy0), theta0 = std::atan2(fy0, fx0);
  // Phase: demodulate around the centroid, c ≈ (a/2)·Σ envelope² · e^{iφ}.
  std::complex<double> demodulated = 0;
  double peak = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double p = (x - cx) * std::cos(theta0) + (y - cy) * std::sin(theta0);
      const double r2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
      const double window = std::exp(-r2 / (2 * sigma0 * sigma0));
      demodulated += image[y * w + x] * window * std::polar(1.0, -2 * M_PI * f0 * p);
      peak = std::max(peak, std::abs(image[y * w + x]));
    }
  const double phase0 = std::arg(demodulated);

  double best_sse = std::numeric_limits<double>::infinity();
  Vector best_vector{};
  for (double scale : {1.0, 0.6, 1.6}) {
    const Vector start = {peak, cx, cy, theta0, f0, phase0, std::log(sigma0 * scale),
                          std::log(sigma0 * scale)};
    const auto [v, sse] = levenberg_marquardt(start, image, h, w);
    if (sse < best_sse) {
      best_sse = sse;
      best_vector = v;
    }
  }
  best.params = canonical(to_params(best_vector));
  best.r2 = 1 - best_sse / total;
  return best;
}

std::vector<GaborFit> fit_gabors(const torch::Tensor& atoms) {
  const torch::Tensor all = atoms.to(torch::kFloat64).contiguous();
  std::vector<GaborFit> fits(static_cast<size_t>(all.size(0)));
  at::parallel_for(0, all.size(0), 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) fits[static_cast<size_t>(i)] = fit_gabor(all[i]);
  });
  return fits;
}

bool is_good_gabor(const GaborFit& fit, int64_t height, int64_t width, double min_r2) {
  const GaborParams& p = fit.params;
  return fit.r2 >= min_r2 && p.x0 >= 0 && p.x0 <= static_cast<double>(width - 1) && p.y0 >= 0 &&
         p.y0 <= static_cast<double>(height - 1);
}

}  // namespace nosharing
