// A whole training step (forward, cross-entropy, topographic loss, backward, SGD step) of the
// networks the topographic losses regularise, without a loss and with each loss at its
// default weight and subsampling (topography.* defaults), side by side in one process
// (issue 5: each loss may add at most 25 % to the step): TopographicTrainStep (each step by
// itself), TopographicStepPair (with and without the loss alternately, the overhead) and
// TopographicLossAlone. Registered at static initialisation into the benchmark binary whose
// main() is in locally_connected_bench.cc (it sets the threads, default 2, before anything
// runs). Batch 128 of random images, 10 classes.
//
//   build/nosharing_bench --benchmark_filter=TopographicStepPair
//   python3 bench/topography_overhead.py build/nosharing_bench   # as a table
#include <benchmark/benchmark.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/sgd.h>
#include <torch/torch.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "nosharing/core/config.h"
#include "nosharing/core/seed.h"
#include "nosharing/core/threads.h"
#include "nosharing/models/model.h"
#include "nosharing/train/optimizer.h"
#include "nosharing/train/topographic_objective.h"

namespace nosharing {
namespace {

constexpr int64_t kBatch = 128;

// The network of `preset` (10 classes, seed 0) with `loss` on its layers at the loss's paper
// weight (topography.weight = -1); the objective is null for "none" and turns on the
// network's response recording when the loss reads responses.
struct RegularisedNetwork {
  Config config;
  Model model;
  std::unique_ptr<TopographicObjective> objective;
  bool records_responses = false;  // the loss reads them
};

RegularisedNetwork regularised_network(const std::string& preset, InputShape input,
                                       const std::string& loss) {
  RegularisedNetwork out{Config::resolve(std::nullopt,
                                         {"model.preset=" + preset, "topography.loss=" + loss,
                                          // the loss on every layer, whatever the preset's
                                          // per-layer losses
                                          "topography.layer_losses=[]", "topography.weight=-1"},
                                         preset_toml),
                         nullptr, nullptr};
  seed_torch(0);
  out.model = build_model(out.config, input, 10);
  out.objective = TopographicObjective::from_config(out.config, *out.model);
  const TopographicLoss topographic =
      make_topographic_loss(TopographicLossOptions::from_config(out.config));
  out.records_responses = topographic != nullptr && topographic->needs_responses();
  return out;
}

// Minor page faults of the process so far: memory a step takes fresh from the kernel (and
// zeroes) instead of reusing, a cost that moves with the allocator's state, not the work.
long minor_page_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// One training step of `network` as the trainer takes it: gradients dropped, forward,
// cross-entropy plus the topographic loss, backward, the in-place losses' gradients, SGD
// step. Without the loss (`with_loss` false) the network does not record its responses.
void step(const RegularisedNetwork& network, torch::optim::SGD& sgd,
          const torch::Tensor& images, const torch::Tensor& labels, bool with_loss = true) {
  TopographicObjective* objective = with_loss ? network.objective.get() : nullptr;
  network.model->record_responses(objective != nullptr && network.records_responses);
  clear_gradients(sgd);
  torch::Tensor total =
      torch::nn::functional::cross_entropy(network.model->forward(images), labels);
  if (objective) total = total + objective->compute();
  total.backward();
  if (objective) objective->add_weight_gradients();
  sgd.step();
}

void train_step(benchmark::State& state, const std::string& preset, InputShape input,
                const std::string& loss) {
  const RegularisedNetwork network = regularised_network(preset, input, loss);
  torch::optim::SGD sgd(network.model->parameters(),
                        torch::optim::SGDOptions(0.01).momentum(0.9));
  const torch::Tensor images = torch::randn({kBatch, input.channels, input.height, input.width});
  const torch::Tensor labels = torch::randint(10, {kBatch}, torch::kInt64);
  network.model->train();
  const long faults_before = minor_page_faults();
  for (auto _ : state) step(network, sgd, images, labels);
  state.SetLabel(blas_core_name());
  state.counters["page_faults_per_step"] = benchmark::Counter(
      static_cast<double>(minor_page_faults() - faults_before),
      benchmark::Counter::kAvgIterations);
  state.counters["images_per_second"] =
      benchmark::Counter(static_cast<double>(kBatch), benchmark::Counter::kIsIterationInvariantRate);
}

// The step with or without the network's loss, in seconds.
double timed_step(const RegularisedNetwork& network, bool with_loss, torch::optim::SGD& sgd,
                  const torch::Tensor& images, const torch::Tensor& labels) {
  const auto start = std::chrono::steady_clock::now();
  step(network, sgd, images, labels, with_loss);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> values) {
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

// The network's step with `loss` and without it, alternately in one loop (A B, B A, A B, ...)
// on the same network and optimiser: the VM's speed drifts by ±20 % over minutes and dips for
// seconds, which separate benchmark runs charge to whichever case ran in the dip, while two
// steps tens of milliseconds apart see the same machine (and one network, not two competing
// for the caches). Each iteration is one pair; its time is the step with the loss, and the
// counters give the medians of both steps and of the pairs' overhead (step with / step
// without − 1, in percent; issue 5's floor is 25 %).
void paired_steps(benchmark::State& state, const std::string& preset, InputShape input,
                  const std::string& loss) {
  const RegularisedNetwork network = regularised_network(preset, input, loss);
  torch::optim::SGD sgd(network.model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  const torch::Tensor images = torch::randn({kBatch, input.channels, input.height, input.width});
  const torch::Tensor labels = torch::randint(10, {kBatch}, torch::kInt64);
  network.model->train();
  timed_step(network, true, sgd, images, labels);  // warm-up: workspaces, thread pools
  timed_step(network, false, sgd, images, labels);
  std::vector<double> times_with, times_without, overheads;
  for (auto _ : state) {
    // Which goes first alternates every pair.
    const bool with_first = times_with.size() % 2 == 0;
    const double first = timed_step(network, with_first, sgd, images, labels);
    const double second = timed_step(network, !with_first, sgd, images, labels);
    const double t_with = with_first ? first : second, t_without = with_first ? second : first;
    state.SetIterationTime(t_with);
    times_with.push_back(t_with);
    times_without.push_back(t_without);
    overheads.push_back(100.0 * (t_with / t_without - 1.0));
  }
  state.SetLabel(blas_core_name());
  state.counters["with_loss_ms"] = 1e3 * median(times_with);
  state.counters["without_loss_ms"] = 1e3 * median(times_without);
  state.counters["overhead_percent"] = median(overheads);
}

// The loss alone, as the step takes it: for the losses of the weights alone, their value and
// gradient added in place into the parameters' gradients (add_gradients); for the response
// losses, forward and backward of the loss summed over the network's layers, into the
// weights' gradients and into one forward pass's responses held as leaves (their layout as
// the network records them), gradients dropped as the trainer does. The step's overhead
// minus this is what the loss costs the rest of the step.
void loss_alone(benchmark::State& state, const std::string& preset, InputShape input,
                const std::string& loss) {
  const RegularisedNetwork network = regularised_network(preset, input, loss);
  const Model& model = network.model;
  const TopographicLoss topographic =
      make_topographic_loss(TopographicLossOptions::from_config(network.config));
  model->train();
  (void)model->forward(torch::randn({kBatch, input.channels, input.height, input.width}));
  std::vector<TopographicLayer> layers;
  for (size_t i = 0; i < model->topographic_layer_count(); ++i) {
    TopographicLayer layer = model->topographic_layer(i, topographic->needs_responses());
    if (layer.responses.defined()) layer.responses = layer.responses.detach().clone().requires_grad_();
    layers.push_back(std::move(layer));
  }
  if (topographic->adds_gradients()) {
    const torch::Tensor no_grad;
    for (auto& p : model->parameters()) p.mutable_grad() = torch::zeros_like(p);
    for (auto _ : state) {
      for (const TopographicLayer& layer : layers) {
        benchmark::DoNotOptimize(topographic->add_gradients(
            layer, 1.0, layer.weight.grad(),
            layer.bias.defined() ? layer.bias.grad() : no_grad));
      }
    }
    state.SetLabel(blas_core_name());
    return;
  }
  for (auto _ : state) {
    torch::Tensor total;
    for (const TopographicLayer& layer : layers) {
      const torch::Tensor value = topographic->forward(layer);
      total = total.defined() ? total + value : value;
    }
    total.backward();
    for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
    for (TopographicLayer& layer : layers) {
      if (layer.responses.defined()) layer.responses.mutable_grad() = torch::Tensor();
    }
  }
  state.SetLabel(blas_core_name());
}

const bool kRegistered = [] {
  struct Network {
    const char* preset;
    InputShape input;
  };
  const Network networks[] = {{"fmnist-lc-topo", InputShape{1, 28, 28}},
                              {"fmnist-hypercolumn-topo", InputShape{1, 28, 28}},
                              {"alltnn-small", InputShape{3, 32, 32}}};
  const char* losses[] = {"none",    "kernel_smoothness", "spatial_correlation", "topoloss",
                          "infonce", "wiring",            "lateral_interaction"};
  using Case = void (*)(benchmark::State&, const std::string&, InputShape, const std::string&);
  // <family>/<network>/<loss> for every network and loss ("none" only if `with_none`).
  const auto register_family = [&](const char* family, Case run, bool with_none,
                                   const auto& configure) {
    for (const Network& network : networks) {
      for (const char* loss : losses) {
        if (!with_none && std::string(loss) == "none") continue;
        configure(benchmark::RegisterBenchmark(
                      (std::string(family) + "/" + network.preset + "/" + loss).c_str(),
                      [network, loss, run](benchmark::State& state) {
                        run(state, network.preset, network.input, loss);
                      })
                      ->Unit(benchmark::kMillisecond));
      }
    }
  };
  register_family("TopographicTrainStep", train_step, true,
                  [](benchmark::internal::Benchmark* b) { b->UseRealTime()->MinTime(2.0); });
  register_family("TopographicStepPair", paired_steps, false,
                  [](benchmark::internal::Benchmark* b) { b->UseManualTime()->MinTime(3.0); });
  register_family("TopographicLossAlone", loss_alone, false,
                  [](benchmark::internal::Benchmark* b) { b->UseRealTime(); });
  return true;
}();

}  // namespace
}  // namespace nosharing
