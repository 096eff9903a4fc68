// The fast kernels' float GEMM backends side by side (nosharing/core/blas.h): oneDNN's
// sgemm against OpenBLAS's, on the GEMM shapes the kernels issue, called the way the kernels
// call them — every compute thread at once, each running its own single-threaded GEMMs on
// its own matrices (OpenMP over positions, BLAS single-threaded inside). GFLOP/s count all
// threads together. Registered at static initialisation into the benchmark binary whose
// main() is in locally_connected_bench.cc (it sets the threads, default 2).
//
//   build/nosharing_bench --benchmark_filter=GemmBackend
//   env -u OPENBLAS_CORETYPE build/nosharing_bench --benchmark_filter=GemmBackend  # OpenBLAS's own kernel
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "nosharing/core/threads.h"
#include "nosharing/core/blas.h"

namespace nosharing {
namespace {

struct GemmShape {
  const char* name;  // which kernel call it is
  bool trans_a, trans_b;
  int64_t m, n, k;
};

// Locally connected forward W_p·patch (NN), weight gradient G_p·patchᵀ (NT) and patch
// gradient W_pᵀ·G_p (TN), batch 128, for ott lc1 (C_out 64, C_in·k² 75), C64 16² K128 k3
// (128, 576) and C128 8² K256 k3 (256, 1152).
const GemmShape kShapes[] = {
    {"lc1_forward_NN_64x128x75", false, false, 64, 128, 75},
    {"lc1_weight_grad_NT_64x75x128", false, true, 64, 75, 128},
    {"lc1_input_grad_TN_75x128x64", true, false, 75, 128, 64},
    {"c64_forward_NN_128x128x576", false, false, 128, 128, 576},
    {"c64_weight_grad_NT_128x576x128", false, true, 128, 576, 128},
    {"c64_input_grad_TN_576x128x128", true, false, 576, 128, 128},
    {"c128_forward_NN_256x128x1152", false, false, 256, 128, 1152},
    {"c128_weight_grad_NT_256x1152x128", false, true, 256, 1152, 128},
    {"c128_input_grad_TN_1152x128x256", true, false, 1152, 128, 256},
};

constexpr int kCallsPerThread = 8;  // per benchmark iteration

void run(benchmark::State& state, const GemmShape& s, SgemmBackend backend) {
  const SgemmBackend saved = sgemm_backend();
  set_sgemm_backend(backend);
  const int threads = at::get_num_threads();
  torch::manual_seed(0);
  // Row-major operands as stored: A is [m, k] or, transposed, [k, m]; B is [k, n] or [n, k].
  std::vector<torch::Tensor> a, b, c;
  for (int t = 0; t < threads; ++t) {
    a.push_back(torch::randn({s.trans_a ? s.k : s.m, s.trans_a ? s.m : s.k}));
    b.push_back(torch::randn({s.trans_b ? s.n : s.k, s.trans_b ? s.k : s.n}));
    c.push_back(torch::empty({s.m, s.n}));
  }
  BlasSingleThreaded single_threaded_blas;
  const auto calls = [&] {
    at::parallel_for(0, threads, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        for (int i = 0; i < kCallsPerThread; ++i) {
          gemm(s.trans_a ? CblasTrans : CblasNoTrans, s.trans_b ? CblasTrans : CblasNoTrans, s.m,
               s.n, s.k, a[t].data_ptr<float>(), a[t].size(1), b[t].data_ptr<float>(),
               b[t].size(1), c[t].data_ptr<float>(), s.n);
        }
      }
    });
  };
  calls();  // oneDNN's JIT set-up, OpenBLAS's buffers
  for (auto _ : state) calls();
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * s.m * s.n * s.k * kCallsPerThread * threads / 1e9,
      benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string("OpenBLAS kernel ") + blas_core_name());
  set_sgemm_backend(saved);
}

const bool kRegistered = [] {
  for (const GemmShape& shape : kShapes) {
    for (const SgemmBackend backend : {SgemmBackend::kOneDnn, SgemmBackend::kOpenBlas}) {
      benchmark::RegisterBenchmark(
          (std::string("GemmBackend/") + shape.name + "/" + sgemm_backend_name(backend)).c_str(),
          [shape, backend](benchmark::State& state) { run(state, shape, backend); })
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  }
  return true;
}();

}  // namespace
}  // namespace nosharing
