// Small vector helpers of the fused topographic losses (topography/cpu/: kernel smoothness,
// TopoLoss, InfoNCE, spatial correlation): loops over rows of D values that replace chains of
// LibTorch ops.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "nosharing/core/vectorised.h"

namespace nosharing::row_math {

// F.normalize's floor on a norm: a row is divided by max(‖v‖, ε).
constexpr double kEpsilon = 1e-12;

// a·b in 16 interleaved partial sums (lane l adds the products i ≡ l mod 16), which the
// compiler keeps in whole vector registers: two AVX2 accumulators of 8 floats, or four SSE
// ones. Four scalar sums s0..s3 were vectorised as one 4-wide chain with permutes and
// blends, a quarter of an AVX2 core's FMA rate, and made the dots the loss's cost (perf,
// TopoLoss forward). The order of the additions depends on n only.
template <typename T>
NOSHARING_INLINE T dot(const T* a, const T* b, int64_t n) {
  constexpr int64_t kLanes = 16;
  T lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int64_t l = 0; l < kLanes; ++l) lanes[l] += a[i + l] * b[i + l];
  }
  T tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  for (int64_t width = kLanes / 2; width > 0; width /= 2) {
    for (int64_t l = 0; l < width; ++l) lanes[l] += lanes[l + width];
  }
  return lanes[0] + tail;
}

// v → v / max(‖v‖, ε) in place; returns ‖v‖.
template <typename T>
NOSHARING_INLINE T normalise(T* v, int64_t n) {
  const T norm = std::sqrt(dot(v, v, n));
  const T scale = T(1) / std::max<T>(norm, T(kEpsilon));
  for (int64_t i = 0; i < n; ++i) v[i] *= scale;
  return norm;
}

// The gradient through v̂ = v / max(‖v‖, ε), in place on dv̂: (dv̂ − (dv̂·v̂) v̂) / ‖v‖ above
// the floor, dv̂ / ε below it (there the normalisation is a constant scale).
template <typename T>
NOSHARING_INLINE void normalise_backward(T* grad, const T* unit, T norm, int64_t n) {
  // Multiplied by the reciprocal: a division per element costs several multiplies.
  if (norm > T(kEpsilon)) {
    const T along = dot(grad, unit, n);
    const T inv = T(1) / norm;
    for (int64_t i = 0; i < n; ++i) grad[i] = (grad[i] - along * unit[i]) * inv;
  } else {
    const T inv = T(1) / T(kEpsilon);
    for (int64_t i = 0; i < n; ++i) grad[i] *= inv;
  }
}

}  // namespace nosharing::row_math
