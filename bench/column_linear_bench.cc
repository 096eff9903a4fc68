// Per-column linear layer (DESIGN §2, the Mapformer's column MLP), forward + backward (grads
// of input, weight and bias), batch 128: our fast kernel (column_linear_forward_fast), our
// baddbmm reference (column_linear_reference) and the shared twin, torch::linear with one
// [D_out, D_in] weight for all columns (one GEMM of [B·L, D_in] × [D_in, D_out]: the same
// FLOPs with no per-column weights). Forward FLOPs = 2·B·L·D_in·D_out, forward + backward 3×.
#include "bench/column_linear_bench.h"

#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>

#include "bench/measure.h"
#include "nosharing/core/threads.h"
#include "nosharing/layers/column_linear.h"
#include "nosharing/layers/cpu/column_linear_function.h"

namespace nosharing::bench {
namespace {

struct ColumnShape {
  const char* name;
  int64_t columns, in_features, out_features;
};

constexpr int64_t kBatch = 128;

// Mapformer-like layers: a square D = 256 map on an 8×8 grid, the column MLP with mlp_ratio
// 1/8 on a 16×16 grid (D = 128 → 16 → 128), and an unshared patch embedding of 4×4×3
// patches into D = 128 on 8×8. The same list is in bench/peers.py.
const ColumnShape kColumnShapes[] = {
    {"col_l64_d256_d256", 64, 256, 256},
    {"col_l256_d128_d16", 256, 128, 16},
    {"col_l256_d16_d128", 256, 16, 128},
    {"col_l64_d48_d128", 64, 48, 128},
};

double step_flops(const ColumnShape& s) {
  return 3.0 * 2.0 * kBatch * s.columns * s.in_features * s.out_features;
}

enum class Method { kFast, kReference, kLinear };

struct Case {
  ColumnShape shape;
  Method method;
  torch::Tensor input, weight, bias, grad_output;
};

Case make_case(const ColumnShape& s, Method method) {
  torch::manual_seed(0);
  Case c{s, method, {}, {}, {}, {}};
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.in_features));
  c.input = torch::randn({kBatch, s.columns, s.in_features}).requires_grad_();
  if (method == Method::kLinear) {
    c.weight = (torch::randn({s.out_features, s.in_features}) * scale).requires_grad_();
    c.bias = torch::zeros({s.out_features}).requires_grad_();
  } else {
    c.weight = (torch::randn({s.columns, s.out_features, s.in_features}) * scale).requires_grad_();
    c.bias = torch::zeros({s.columns, s.out_features}).requires_grad_();
  }
  c.grad_output = torch::randn({kBatch, s.columns, s.out_features});
  return c;
}

// One training-like step: forward, backward into all three, gradients set to none.
void step(Case& c) {
  torch::Tensor out;
  switch (c.method) {
    case Method::kFast: out = column_linear_forward_fast(c.input, c.weight, c.bias); break;
    case Method::kReference: out = column_linear_reference(c.input, c.weight, c.bias); break;
    case Method::kLinear: out = torch::linear(c.input, c.weight, c.bias); break;
  }
  out.backward(c.grad_output);
  c.input.mutable_grad() = torch::Tensor();
  c.weight.mutable_grad() = torch::Tensor();
  c.bias.mutable_grad() = torch::Tensor();
}

void run_google_benchmark(benchmark::State& state, ColumnShape s, Method method) {
  Case c = make_case(s, method);
  step(c);  // warm-up: workspaces, OpenMP and OpenBLAS pools
  for (auto _ : state) step(c);
  state.counters["GFLOP/s"] =
      benchmark::Counter(step_flops(s) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(blas_core_name());
}

const ColumnShape* find_shape(const std::string& name) {
  for (const ColumnShape& s : kColumnShapes) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

}  // namespace

void register_column_linear_benchmarks() {
  const std::pair<const char*, Method> methods[] = {
      {"fast", Method::kFast}, {"reference", Method::kReference}, {"linear", Method::kLinear}};
  for (const ColumnShape& s : kColumnShapes) {
    for (const auto& [name, method] : methods) {
      benchmark::RegisterBenchmark(
          (std::string("ColumnLinearFwdBwd/") + name + "/" + s.name).c_str(),
          run_google_benchmark, s, method)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
}

bool is_column_linear_shape(const std::string& shape) { return find_shape(shape) != nullptr; }

int run_column_linear_one(const std::string& method, const std::string& shape_name,
                          double seconds) {
  const ColumnShape* shape = find_shape(shape_name);
  if (shape == nullptr) {
    std::fprintf(stderr, "unknown column linear shape '%s'\n", shape_name.c_str());
    return 2;
  }
  Method kind;
  if (method == "fast") {
    kind = Method::kFast;
  } else if (method == "reference") {
    kind = Method::kReference;
  } else if (method == "linear") {
    kind = Method::kLinear;
  } else {
    std::fprintf(stderr, "unknown column linear method '%s' (fast | reference | linear)\n",
                 method.c_str());
    return 2;
  }
  Case c = make_case(*shape, kind);
  torch::Tensor warm = torch::randn({64, 64});  // LibTorch's lazy init outside the measurement
  (void)at::mm(warm, warm);
  const Measurement m = measure([&] { step(c); }, 2, seconds);
  std::printf(
      "{\"method\": \"%s\", \"shape\": \"%s\", \"ms\": %.3f, \"gflops\": %.2f, \"extra_mb\": %.1f, "
      "\"blas_core\": \"%s\", \"threads\": %d, \"blas_threads\": %d}\n",
      method.c_str(), shape_name.c_str(), m.ms, step_flops(*shape) / (m.ms * 1e6), m.extra_mb,
      blas_core_name(), at::get_num_threads(), openblas_get_num_threads());
  return 0;
}

}  // namespace nosharing::bench
