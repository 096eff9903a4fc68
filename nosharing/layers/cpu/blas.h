// What the fast CPU kernels share about calling BLAS (OpenBLAS through CBLAS): a typed gemm
// for float and double, the guard that keeps OpenBLAS single-threaded while the kernels'
// own OpenMP threads call it, and the check that a tensor handed to them is a CPU float32 or
// float64 tensor.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>
#include <cblas.h>

#include <cstdint>

namespace nosharing {

// Row-major C = A·B (beta 0) or C += A·B (accumulate), with transposes; float and double.
// ld* are row strides in elements.
inline void gemm(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int64_t m, int64_t n,
                 int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                 int64_t ldc, bool accumulate = false) {
  cblas_sgemm(CblasRowMajor, trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb,
              accumulate ? 1.0f : 0.0f, c, ldc);
}
inline void gemm(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int64_t m, int64_t n,
                 int64_t k, const double* a, int64_t lda, const double* b, int64_t ldb,
                 double* c, int64_t ldc, bool accumulate = false) {
  cblas_dgemm(CblasRowMajor, trans_a, trans_b, m, n, k, 1.0, a, lda, b, ldb,
              accumulate ? 1.0 : 0.0, c, ldc);
}

// OpenBLAS single-threaded while our OpenMP threads call it: its own pthread pool would
// compete with them for the same cores (DESIGN §9), and single-threaded OpenBLAS is safe to
// call concurrently. The caller's setting is restored afterwards.
class BlasSingleThreaded {
 public:
  BlasSingleThreaded() : saved_(openblas_get_num_threads()) {
    if (saved_ != 1) openblas_set_num_threads(1);
  }
  ~BlasSingleThreaded() {
    if (saved_ != 1) openblas_set_num_threads(saved_);
  }
  BlasSingleThreaded(const BlasSingleThreaded&) = delete;
  BlasSingleThreaded& operator=(const BlasSingleThreaded&) = delete;

 private:
  int saved_;
};

// Throws c10::Error ("<component>: <what> must be on the CPU / float32 or float64, got …")
// unless t is a CPU float32 or float64 tensor: the kernels dispatch on exactly those.
inline void check_floating_cpu(const at::Tensor& t, const char* component, const char* what) {
  TORCH_CHECK(t.device().is_cpu(), component, ": ", what, " must be on the CPU, got ",
              t.device());
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, component, ": ",
              what, " must be float32 or float64, got ", t.scalar_type());
}

}  // namespace nosharing
