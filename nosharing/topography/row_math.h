// Small vector helpers of the fused topographic losses (neighbour_cosine, blurred_cosine,
// infonce_function): the loops over rows of D values that replace chains of LibTorch ops.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "nosharing/core/vectorised.h"

namespace nosharing::row_math {

// F.normalize's floor on a norm: a row is divided by max(‖v‖, ε).
constexpr double kEpsilon = 1e-12;

// a·b with four independent sums, so the compiler can keep them in registers and vectorise
// without reassociating one chain.
template <typename T>
NOSHARING_INLINE T dot(const T* a, const T* b, int64_t n) {
  T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
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
