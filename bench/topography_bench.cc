// A whole training step (forward, cross-entropy, topographic loss, backward, SGD step) of the
// networks the topographic losses regularise, without a loss and with each loss at its
// default weight and subsampling (topography.* defaults), side by side in one process
// (issue 5: each loss may add at most 25 % to the step). Registered at static initialisation
// into the benchmark binary whose main() is in locally_connected_bench.cc (it sets the
// threads, default 2, before anything runs). Batch 128 of random images, 10 classes.
//
//   build/nosharing_bench --benchmark_filter=TopographicTrainStep
//   python3 bench/topography_overhead.py build/nosharing_bench   # the same, as a table
#include <benchmark/benchmark.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/sgd.h>
#include <torch/torch.h>

#include <sys/resource.h>

#include <memory>
#include <string>
#include <vector>

#include "nosharing/core/config.h"
#include "nosharing/core/seed.h"
#include "nosharing/core/threads.h"
#include "nosharing/models/lcnet.h"
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
};

RegularisedNetwork regularised_network(const std::string& preset, InputShape input,
                                       const std::string& loss) {
  RegularisedNetwork out{Config::resolve(std::nullopt,
                                         {"model.preset=" + preset, "topography.loss=" + loss,
                                          "topography.weight=-1"},
                                         preset_toml),
                         nullptr, nullptr};
  seed_torch(0);
  out.model = build_model(out.config, input, 10);
  out.objective = TopographicObjective::from_config(out.config, *out.model);
  return out;
}

// Minor page faults of the process so far: memory a step takes fresh from the kernel (and
// zeroes) instead of reusing, a cost that moves with the allocator's state, not the work.
long minor_page_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

void train_step(benchmark::State& state, const std::string& preset, InputShape input,
                const std::string& loss) {
  const RegularisedNetwork network = regularised_network(preset, input, loss);
  const Model& model = network.model;
  TopographicObjective* objective = network.objective.get();
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  const torch::Tensor images = torch::randn({kBatch, input.channels, input.height, input.width});
  const torch::Tensor labels = torch::randint(10, {kBatch}, torch::kInt64);
  model->train();
  const long faults_before = minor_page_faults();
  for (auto _ : state) {
    clear_gradients(sgd);  // as the trainer does
    torch::Tensor total =
        torch::nn::functional::cross_entropy(model->forward(images), labels);
    if (objective) total = total + objective->compute();
    total.backward();
    sgd.step();
  }
  state.SetLabel(blas_core_name());
  state.counters["page_faults_per_step"] = benchmark::Counter(
      static_cast<double>(minor_page_faults() - faults_before),
      benchmark::Counter::kAvgIterations);
  state.counters["images_per_second"] =
      benchmark::Counter(static_cast<double>(kBatch), benchmark::Counter::kIsIterationInvariantRate);
}

// The loss alone: forward and backward of the loss summed over the network's layers, into
// the weights' gradients and, for the response losses, into one forward pass's responses held
// as leaves (their layout as the network records them); gradients dropped as zero_grad would.
// The step's overhead minus this is what the loss costs the rest of the step.
void loss_alone(benchmark::State& state, const std::string& preset, InputShape input,
                const std::string& loss) {
  const RegularisedNetwork network = regularised_network(preset, input, loss);
  const Model& model = network.model;
  const TopographicLoss topographic =
      make_topographic_loss(TopographicLossOptions::from_config(network.config));
  model->train();
  (void)model->forward(torch::randn({kBatch, input.channels, input.height, input.width}));
  const auto& net = dynamic_cast<const LcNetImpl&>(*model);
  std::vector<TopographicLayer> layers;
  for (size_t i = 0; i < net.layer_specs().size(); ++i) {
    TopographicLayer layer = topographic_layer(net, i, topographic->needs_responses());
    if (layer.responses.defined()) layer.responses = layer.responses.detach().clone().requires_grad_();
    layers.push_back(std::move(layer));
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
                              {"alltnn-small", InputShape{3, 32, 32}}};
  const char* losses[] = {"none",     "kernel_smoothness", "spatial_correlation",
                          "topoloss", "infonce",           "wiring"};
  for (const Network& network : networks) {
    for (const char* loss : losses) {
      benchmark::RegisterBenchmark(
          (std::string("TopographicTrainStep/") + network.preset + "/" + loss).c_str(),
          [network, loss](benchmark::State& state) {
            train_step(state, network.preset, network.input, loss);
          })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime()
          ->MinTime(2.0);
    }
  }
  for (const Network& network : networks) {
    for (const char* loss : losses) {
      if (std::string(loss) == "none") continue;
      benchmark::RegisterBenchmark(
          (std::string("TopographicLossAlone/") + network.preset + "/" + loss).c_str(),
          [network, loss](benchmark::State& state) {
            loss_alone(state, network.preset, network.input, loss);
          })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  return true;
}();

}  // namespace
}  // namespace nosharing
