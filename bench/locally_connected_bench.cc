// Locally connected layer, forward + backward (grads of input, weight and bias), batch 128:
// our fast kernel, our unfold+bmm reference, and at::conv2d of the same shape (the twin).
// The per-column linear layer's cases are in column_linear_bench.cc; this file holds main().
//
// Two modes:
//   nosharing_bench [google benchmark flags] [--threads=N]
//       Google Benchmark over every shape × method, GFLOP/s as a counter
//       (forward FLOPs = 2·B·P·C_out·C_in·k², forward + backward = 3×).
//   nosharing_bench --one=METHOD:SHAPE [--threads=N] [--seconds=S]
//       One measurement in this process, printed as one JSON line, for bench/side_by_side.sh:
//       median ms per step, GFLOP/s, extra memory (peak RSS minus RSS before the first call)
//       and the BLAS kernel OpenBLAS chose. METHOD: fast | reference | conv2d | sgemm
//       (sgemm: OpenBLAS sgemm 2048³, the ceiling; SHAPE ignored); for a column linear
//       SHAPE (col_…): fast | reference | linear.
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "nosharing/core/large_buffer_pool.h"
#include "nosharing/core/threads.h"
#include "nosharing/layers/cpu/locally_connected_function.h"
#include "nosharing/layers/cpu/locally_connected_kernel.h"
#include "nosharing/layers/locally_connected_reference.h"
#include "bench/column_linear_bench.h"
#include "bench/measure.h"

namespace nosharing {
namespace {

using bench::Measurement;
using bench::measure;
using bench::LayerTensors;
using bench::backward_and_drop_grads;
using bench::run_steps;
using bench::warm_up_libtorch;
using bench::print_measurement;

struct BenchShape {
  const char* name;
  int64_t in_channels, size, out_channels, kernel, stride, padding;
};

constexpr int64_t kBatch = 128;

// DESIGN §9's three shapes (stride 1, padding k//2), then the ott-cifar layers. ott-cifar's
// third layer (C128 8² K256 k3 s1 p1) is DESIGN's third shape, measured once.
const BenchShape kShapes[] = {
    {"c3_32_k64_k5", 3, 32, 64, 5, 1, 2},
    {"c64_16_k128_k3", 64, 16, 128, 3, 1, 1},
    {"c128_8_k256_k3", 128, 8, 256, 3, 1, 1},  // = ott-cifar lc3
    {"ott_lc1_c3_32_k64_k5_s2", 3, 32, 64, 5, 2, 2},
    {"ott_lc2_c64_16_k128_k5_s2", 64, 16, 128, 5, 2, 2},
};

int64_t out_size(const BenchShape& s) { return (s.size + 2 * s.padding - s.kernel) / s.stride + 1; }

double step_flops(const BenchShape& s) {
  const int64_t positions = out_size(s) * out_size(s);
  return 3.0 * 2.0 * kBatch * positions * s.out_channels * s.in_channels * s.kernel * s.kernel;
}

enum class Method { kFast, kReference, kConv2d };

// Inputs of one fwd+bwd step, made before anything is timed or measured.
struct Case {
  BenchShape shape;
  Method method;
  LayerTensors t;
};

Case make_case(const BenchShape& s, Method method) {
  torch::manual_seed(0);
  Case c{s, method, {}};
  const int64_t positions = out_size(s) * out_size(s);
  const int64_t fan_in = s.in_channels * s.kernel * s.kernel;
  c.t.input = torch::randn({kBatch, s.in_channels, s.size, s.size}).requires_grad_();
  if (method == Method::kConv2d) {
    c.t.weight = (torch::randn({s.out_channels, s.in_channels, s.kernel, s.kernel}) / std::sqrt(fan_in))
                   .requires_grad_();
    c.t.bias = torch::zeros({s.out_channels}).requires_grad_();
  } else {
    c.t.weight = (torch::randn({positions, s.out_channels, fan_in}) / std::sqrt(fan_in)).requires_grad_();
    c.t.bias = torch::zeros({positions, s.out_channels}).requires_grad_();
  }
  c.t.grad_output = torch::randn({kBatch, s.out_channels, out_size(s), out_size(s)});
  return c;
}

// One training-like step: forward, backward into all three, gradients set to none.
void step(Case& c) {
  const BenchShape& s = c.shape;
  const LayerTensors& t = c.t;
  torch::Tensor out;
  switch (c.method) {
    case Method::kFast:
      out = locally_connected_forward_fast(t.input, t.weight, t.bias, s.stride, s.padding);
      break;
    case Method::kReference:
      out = locally_connected_reference(t.input, t.weight, t.bias, s.kernel, s.stride, s.padding);
      break;
    case Method::kConv2d:
      out = at::conv2d(t.input, t.weight, t.bias, s.stride, s.padding);
      break;
  }
  backward_and_drop_grads(c.t, out);
}

void run_google_benchmark(benchmark::State& state, BenchShape s, Method method) {
  Case c = make_case(s, method);
  run_steps(state, [&c] { step(c); }, step_flops(s));
}

// The layer's two layout changes of a whole batch, NCHW → batch-innermost and back (the
// input on the way in, its gradient on the way out), for each shape's input.
void run_layout_benchmark(benchmark::State& state, BenchShape s, bool to_batch_innermost) {
  const torch::Tensor nchw = torch::randn({kBatch, s.in_channels, s.size, s.size});
  const torch::Tensor chwn = nchw_to_chwn(nchw);
  const auto convert = [&] {
    benchmark::DoNotOptimize(to_batch_innermost ? nchw_to_chwn(nchw) : chwn_to_nchw(chwn));
  };
  convert();
  for (auto _ : state) convert();
  state.SetBytesProcessed(state.iterations() * nchw.numel() * 4 * 2);
}

// ---- --one mode ---------------------------------------------------------------------------

int run_one(const std::string& spec, double seconds, int threads) {
  const size_t colon = spec.find(':');
  const std::string method = spec.substr(0, colon);
  const std::string shape_name = colon == std::string::npos ? "" : spec.substr(colon + 1);
  Measurement m;
  double flops = 0;
  if (method == "sgemm") {
    constexpr int n = 2048;
    std::vector<float> a(n * n, 1.0f), b(n * n, 0.5f), c(n * n, 0.0f);
    m = measure([&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n,
                  b.data(), n, 0.0f, c.data(), n);
    }, 2, seconds);
    flops = 2.0 * n * n * n;
  } else if (bench::is_column_linear_shape(shape_name)) {
    return bench::run_column_linear_one(method, shape_name, seconds);
  } else {
    const BenchShape* shape = nullptr;
    for (const BenchShape& s : kShapes) {
      if (shape_name == s.name) shape = &s;
    }
    Method kind;
    if (method == "fast") {
      kind = Method::kFast;
    } else if (method == "reference") {
      kind = Method::kReference;
    } else if (method == "conv2d") {
      kind = Method::kConv2d;
    } else {
      std::fprintf(stderr, "unknown method '%s' (fast | reference | conv2d | sgemm)\n", method.c_str());
      return 2;
    }
    if (shape == nullptr) {
      std::fprintf(stderr, "unknown shape '%s'\n", shape_name.c_str());
      return 2;
    }
    Case c = make_case(*shape, kind);
    warm_up_libtorch();
    m = measure([&] { step(c); }, 2, seconds);
    flops = step_flops(*shape);
  }
  print_measurement(method, shape_name, m, flops);
  return 0;
}

}  // namespace
}  // namespace nosharing

int main(int argc, char** argv) {
  using namespace nosharing;
  ensure_short_waiting(argv);  // as the CLI does: what users' training gets
  install_cpu_allocator_from_environment();
  std::string one;
  int threads = 2;
  double seconds = 3.0;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--one=", 0) == 0) {
      one = arg.substr(6);
    } else if (arg.rfind("--threads=", 0) == 0) {
      threads = std::stoi(arg.substr(10));
    } else if (arg.rfind("--seconds=", 0) == 0) {
      seconds = std::stod(arg.substr(10));
    } else {
      rest.push_back(argv[i]);
    }
  }
  set_compute_threads(threads);
  if (!one.empty()) return run_one(one, seconds, threads);

  const std::pair<const char*, Method> methods[] = {
      {"fast", Method::kFast}, {"reference", Method::kReference}, {"conv2d", Method::kConv2d}};
  for (const BenchShape& s : kShapes) {
    for (const auto& [name, method] : methods) {
      benchmark::RegisterBenchmark((std::string("LocallyConnectedFwdBwd/") + name + "/" + s.name).c_str(),
                                   run_google_benchmark, s, method)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  for (const BenchShape& s : kShapes) {
    for (const bool to_chwn : {true, false}) {
      benchmark::RegisterBenchmark(
          (std::string("LayoutTranspose/") + (to_chwn ? "nchw_to_chwn/" : "chwn_to_nchw/") +
           s.name).c_str(),
          run_layout_benchmark, s, to_chwn)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  }
  bench::register_column_linear_benchmarks();
  int bench_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&bench_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(bench_argc, rest.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
