// One optimiser step over the parameters of a large unshared network (issue 22): the fused
// SGD and AdamW of nosharing/train/fused_optimizer.h against LibTorch's own, side by side in
// one process, on ott-cifar's 50.0 M parameters in tensors of its layers' sizes (lc3, fc1,
// lc2, lc1, the classifier; `nosharing info`). Registered into the benchmark binary whose main() is in
// locally_connected_bench.cc (threads, default 2; the pooling CPU allocator as the CLI has it).
//
//   build/nosharing_bench --benchmark_filter=OptimizerStep
#include <benchmark/benchmark.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "nosharing/train/fused_optimizer.h"

namespace nosharing {
namespace {

// ott-cifar's parameter tensors (weights; biases and norms, < 0.1 %, left out), with gradients.
std::vector<torch::Tensor> parameters_with_gradients() {
  torch::manual_seed(0);
  std::vector<torch::Tensor> out;
  for (int64_t n : {int64_t{18'890'752}, int64_t{16'778'240}, int64_t{13'115'392},
                    int64_t{1'245'184}, int64_t{10'250}}) {
    torch::Tensor p = torch::randn({n}).requires_grad_();
    p.mutable_grad() = torch::randn({n}) * 1e-3;
    out.push_back(p);
  }
  return out;
}

template <class Optimizer, class Options>
void optimizer_step(benchmark::State& state, Options options) {
  std::vector<torch::Tensor> parameters = parameters_with_gradients();
  Optimizer optimizer(parameters, options);
  optimizer.step();  // creates the momentum / moment buffers
  for (auto _ : state) optimizer.step();
  int64_t elements = 0;
  for (const auto& p : parameters) elements += p.numel();
  state.counters["Melements/s"] = benchmark::Counter(
      static_cast<double>(elements) * static_cast<double>(state.iterations()) / 1e6,
      benchmark::Counter::kIsRate);
}

const auto kSgd = torch::optim::SGDOptions(0.05).momentum(0.9).nesterov(true).weight_decay(5e-4);
const auto kAdamW = torch::optim::AdamWOptions(1e-3).weight_decay(0.05);

void OptimizerStep_SGD_fused(benchmark::State& s) { optimizer_step<FusedSGD>(s, kSgd); }
void OptimizerStep_SGD_libtorch(benchmark::State& s) {
  optimizer_step<torch::optim::SGD>(s, kSgd);
}
void OptimizerStep_AdamW_fused(benchmark::State& s) { optimizer_step<FusedAdamW>(s, kAdamW); }
void OptimizerStep_AdamW_libtorch(benchmark::State& s) {
  optimizer_step<torch::optim::AdamW>(s, kAdamW);
}

BENCHMARK(OptimizerStep_SGD_fused)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(OptimizerStep_SGD_libtorch)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(OptimizerStep_AdamW_fused)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(OptimizerStep_AdamW_libtorch)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace nosharing
