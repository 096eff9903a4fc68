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
  LayerTensors t;
};

Case make_case(const ColumnShape& s, Method method) {
  torch::manual_seed(0);
  Case c{s, method, {}};
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.in_features));
  c.t.input = torch::randn({kBatch, s.columns, s.in_features}).requires_grad_();
  if (method == Method::kLinear) {
    c.t.weight = (torch::randn({s.out_features, s.in_features}) * scale).requires_grad_();
    c.t.bias = torch::zeros({s.out_features}).requires_grad_();
  } else {
    c.t.weight = (torch::randn({s.columns, s.out_features, s.in_features}) * scale).requires_grad_();
    c.t.bias = torch::zeros({s.columns, s.out_features}).requires_grad_();
  }
  c.t.grad_output = torch::randn({kBatch, s.columns, s.out_features});
  return c;
}

// One training-like step: forward, backward into all three, gradients set to none.
void step(Case& c) {
  const LayerTensors& t = c.t;
  torch::Tensor out;
  switch (c.method) {
    case Method::kFast: out = column_linear_forward_fast(t.input, t.weight, t.bias); break;
    case Method::kReference: out = column_linear_reference(t.input, t.weight, t.bias); break;
    case Method::kLinear: out = torch::linear(t.input, t.weight, t.bias); break;
  }
  backward_and_drop_grads(c.t, out);
}

void run_google_benchmark(benchmark::State& state, ColumnShape s, Method method) {
  Case c = make_case(s, method);
  run_steps(state, [&c] { step(c); }, step_flops(s));
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
  warm_up_libtorch();
  print_measurement(method, shape_name, measure([&] { step(c); }, 2, seconds), step_flops(*shape));
  return 0;
}

}  // namespace nosharing::bench
