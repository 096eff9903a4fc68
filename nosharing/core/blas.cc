#include "nosharing/core/blas.h"

#include <atomic>
#include <cstdlib>
#include <string>

namespace nosharing {
namespace {

constexpr int kUnread = -1;
std::atomic<int> chosen_backend{kUnread};

}  // namespace

SgemmBackend sgemm_backend_from_name(const char* name) {
  const std::string value = name != nullptr ? name : "";
  if (value.empty() || value == "onednn") return SgemmBackend::kOneDnn;
  TORCH_CHECK(value == "openblas", "NOSHARING_SGEMM: '", value,
              "'; expected onednn or openblas");
  return SgemmBackend::kOpenBlas;
}

SgemmBackend sgemm_backend() {
  int backend = chosen_backend.load(std::memory_order_relaxed);
  if (backend == kUnread) {
    backend = static_cast<int>(sgemm_backend_from_name(std::getenv("NOSHARING_SGEMM")));
    chosen_backend.store(backend, std::memory_order_relaxed);
  }
  return static_cast<SgemmBackend>(backend);
}

void set_sgemm_backend(SgemmBackend backend) {
  chosen_backend.store(static_cast<int>(backend), std::memory_order_relaxed);
}

const char* sgemm_backend_name(SgemmBackend backend) {
  return backend == SgemmBackend::kOneDnn ? "oneDNN" : "OpenBLAS";
}

}  // namespace nosharing
