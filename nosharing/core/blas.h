// What the fast CPU kernels (layers/cpu/) and the fused topographic losses share about calling
// BLAS: a typed gemm for float and double, the guard that keeps OpenBLAS single-threaded while
// the kernels' own OpenMP threads call it, and the check that a tensor handed to them is a
// CPU float32 or float64 tensor.
//
// float GEMMs go to oneDNN's sgemm (Debian libdnnl-dev; the library LibTorch's conv2d already
// runs on), double ones to OpenBLAS. The kernels' GEMMs are small and single-threaded (one
// position or column each, 64 × 128 × 75 to 256 × 128 × 1152). Measured on this machine's
// AVX-512 cores (bench/README.md, "GEMM backend"): oneDNN runs them at ~140–230 GFLOP/s
// whichever OpenBLAS kernel the machine forces; OpenBLAS at ~85–110 with the Haswell kernel
// this machine sets (OPENBLAS_CORETYPE) and ~125–230 with its own choice (Cooperlake).
// NOSHARING_SGEMM = onednn (the default) or openblas, read once per process; the backends are
// tested against each other.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>
#include <cblas.h>
#include <dnnl.h>

#include <cstdint>

namespace nosharing {

enum class SgemmBackend { kOneDnn, kOpenBlas };

// The float GEMM backend: NOSHARING_SGEMM, read at the first call.
SgemmBackend sgemm_backend();
// "onednn" (or null or empty) or "openblas"; anything else throws, naming the value.
SgemmBackend sgemm_backend_from_name(const char* name);
// For tests and benchmarks: overrides the environment from now on.
void set_sgemm_backend(SgemmBackend backend);
const char* sgemm_backend_name(SgemmBackend backend);

// Row-major C = A·B (beta 0) or C += A·B (accumulate), with transposes; float and double.
// ld* are row strides in elements.
inline void gemm(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int64_t m, int64_t n,
                 int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                 int64_t ldc, bool accumulate = false) {
  if (sgemm_backend() == SgemmBackend::kOpenBlas) {
    cblas_sgemm(CblasRowMajor, trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb,
                accumulate ? 1.0f : 0.0f, c, ldc);
    return;
  }
  const dnnl_status_t status =
      dnnl_sgemm(trans_a == CblasTrans ? 'T' : 'N', trans_b == CblasTrans ? 'T' : 'N', m, n, k,
                 1.0f, a, lda, b, ldb, accumulate ? 1.0f : 0.0f, c, ldc);
  TORCH_CHECK(status == dnnl_success, "gemm: dnnl_sgemm failed with status ",
              static_cast<int>(status), " for m ", m, ", n ", n, ", k ", k);
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
