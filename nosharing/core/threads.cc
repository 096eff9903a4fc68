#include "nosharing/core/threads.h"

#include <ATen/Parallel.h>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

extern "C" {
void openblas_set_num_threads(int num_threads);
char* openblas_get_corename(void);
}

namespace nosharing {

void ensure_short_waiting(char** argv) {
  // Both libraries read their variables once, when loaded: set what is unset, then re-execute.
  bool changed = false;
  const auto set_if_unset = [&changed](const char* name, const char* value) {
    if (std::getenv(name) != nullptr) return true;
    if (setenv(name, value, /*overwrite=*/1) != 0) return false;
    changed = true;
    return true;
  };
  // A wait policy the user chose is kept whole (under PASSIVE libgomp ignores the spin count).
  if (std::getenv("OMP_WAIT_POLICY") == nullptr && !set_if_unset("GOMP_SPINCOUNT", "1000")) return;
  if (!set_if_unset("OPENBLAS_THREAD_TIMEOUT", "4")) return;
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr) {
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
                        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                        __builtin_cpu_supports("avx512vl");
    const bool avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (const char* core = better_blas_core(openblas_get_corename(), avx512, avx2_fma)) {
      if (!set_if_unset("OPENBLAS_CORETYPE", core)) return;
    }
  }
  if (changed) execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
}

const char* better_blas_core(const char* chosen, bool avx512, bool avx2_fma) {
  if (chosen == nullptr || std::strcmp(chosen, "Prescott") != 0) return nullptr;
  if (avx512) return "SkylakeX";
  if (avx2_fma) return "Haswell";
  return nullptr;
}

int set_compute_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
  openblas_set_num_threads(threads);
  return threads;
}

const char* blas_core_name() {
  const char* name = openblas_get_corename();
  return name != nullptr ? name : "unknown";
}

}  // namespace nosharing
