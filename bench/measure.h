// What the layer benchmark files share: one training-like forward + backward step, its Google
// Benchmark loop, and the --one mode's timing, memory measurement and JSON line (one
// measurement per process, for bench/side_by_side.sh).
#pragma once

#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "nosharing/core/threads.h"
#include "nosharing/core/blas.h"

namespace nosharing::bench {

// The tensors of one layer's training-like step: the input, the layer's weight and bias (all
// three leaves requiring grad) and the gradient fed to backward.
struct LayerTensors {
  torch::Tensor input, weight, bias, grad_output;
};

// Backward of `out` into the three leaves, then their gradients dropped (set to none, as
// optimisers' zero_grad does by default) so every step allocates them afresh.
inline void backward_and_drop_grads(LayerTensors& t, const torch::Tensor& out) {
  out.backward(t.grad_output);
  t.input.mutable_grad() = torch::Tensor();
  t.weight.mutable_grad() = torch::Tensor();
  t.bias.mutable_grad() = torch::Tensor();
}

// Google Benchmark's loop over `step` after one untimed warm-up call (workspaces, OpenMP and
// OpenBLAS pools), with GFLOP/s from `step_flops` and the OpenBLAS kernel as the label.
template <class Step>
void run_steps(benchmark::State& state, Step&& step, double step_flops) {
  step();
  for (auto _ : state) step();
  state.counters["GFLOP/s"] =
      benchmark::Counter(step_flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(blas_core_name()) + ", kernels' sgemm " +
                 sgemm_backend_name(sgemm_backend()));
}

// A /proc/self/status field in kB ("VmRSS:", "VmHWM:"), or -1.
inline long status_kb(const char* key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const size_t length = std::strlen(key);
  while (std::getline(status, line)) {
    if (line.compare(0, length, key) == 0) return std::stol(line.substr(length));
  }
  return -1;
}

// Resets the kernel's peak-RSS mark (VmHWM) to the current RSS, so the peak measured later
// belongs to the layer alone.
inline bool reset_peak_rss() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
  clear_refs.flush();
  return clear_refs.good();
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Measurement {
  double ms = 0;        // median per call
  double extra_mb = 0;  // peak RSS during the calls minus RSS before them; -1 if unknown
};

// Times `body` (after `warmup` calls) until `seconds` have passed, at least 3 and at most 50
// times; returns the median in ms. Memory is measured around all of it.
inline Measurement measure(const std::function<void()>& body, int warmup, double seconds) {
  const long before_kb = status_kb("VmRSS:");
  const bool peak_reset = reset_peak_rss();
  for (int i = 0; i < warmup; ++i) body();
  std::vector<double> times;
  const auto start = std::chrono::steady_clock::now();
  while (times.size() < 3 ||
         (times.size() < 50 &&
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() <
              seconds)) {
    const auto t0 = std::chrono::steady_clock::now();
    body();
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  Measurement m;
  m.ms = median(times);
  m.extra_mb = peak_reset ? (status_kb("VmHWM:") - before_kb) / 1024.0 : -1;
  return m;
}

// Lazy initialisation of the libraries, done before a measurement rather than inside it:
// LibTorch's, and the float GEMM backends' (oneDNN generates its JIT kernels at the first
// sgemm: 6 MB of code and tables, once per process).
inline void warm_up_libtorch() {
  torch::Tensor warm = torch::randn({64, 64});
  (void)at::mm(warm, warm);
  torch::Tensor a = torch::randn({128, 128}), c = torch::empty({128, 128});
  gemm(CblasNoTrans, CblasNoTrans, 128, 128, 128, a.data_ptr<float>(), 128, a.data_ptr<float>(),
       128, c.data_ptr<float>(), 128);
}

// The --one mode's result: one JSON line on stdout.
inline void print_measurement(const std::string& method, const std::string& shape,
                              const Measurement& m, double step_flops) {
  std::printf(
      "{\"method\": \"%s\", \"shape\": \"%s\", \"ms\": %.3f, \"gflops\": %.2f, \"extra_mb\": %.1f, "
      "\"blas_core\": \"%s\", \"sgemm_backend\": \"%s\", \"threads\": %d, "
      "\"blas_threads\": %d}\n",
      method.c_str(), shape.c_str(), m.ms, step_flops / (m.ms * 1e6), m.extra_mb,
      blas_core_name(), sgemm_backend_name(sgemm_backend()), at::get_num_threads(),
      openblas_get_num_threads());
}

}  // namespace nosharing::bench
