#include "nosharing/train/gradient_allreduce.h"

#include <gtest/gtest.h>

#include <vector>

#include "nosharing/train/communicator_test_util.h"

namespace nosharing {
namespace gradient_allreduce_test {  // named, not anonymous: the tests compile in unity batches

using testing::quick;
using testing::run_ranks;

// Two linear layers, a parameter only rank 1 uses and one nobody uses.
struct TinyNet : torch::nn::Module {
  TinyNet() {
    a = register_module("a", torch::nn::Linear(3, 5));
    b = register_module("b", torch::nn::Linear(5, 2));
    sometimes = register_parameter("sometimes", torch::zeros({4}));
    never = register_parameter("never", torch::zeros({3}));
    torch::NoGradGuard no_grad;
    int k = 0;  // deterministic, distinct values (the global generator is shared by threads)
    for (auto& p : parameters()) {
      p.copy_(torch::sin(torch::arange(p.numel(), torch::kFloat32) + 10 * k++).view(p.sizes()));
    }
  }
  torch::Tensor loss(const torch::Tensor& x, bool use_sometimes) {
    torch::Tensor y = b(torch::tanh(a(x))).pow(2).mean();
    if (use_sometimes) y = y + (sometimes * torch::arange(4, torch::kFloat32)).sum();
    return y;
  }
  torch::nn::Linear a{nullptr}, b{nullptr};
  torch::Tensor sometimes, never;
};

std::vector<torch::Tensor> local_gradients(const torch::Tensor& x, bool use_sometimes) {
  TinyNet net;
  net.loss(x, use_sometimes).backward();
  std::vector<torch::Tensor> grads;
  for (const auto& p : net.parameters()) grads.push_back(p.grad());
  return grads;
}

// After backward, every rank holds the mean over ranks of the ranks' own gradients: with
// hooks (overlap) and without, over several tiny buckets, for two consecutive steps; a
// parameter one rank does not use averages its zeros in; one nobody uses keeps no gradient.
TEST(GradientAllreduceTest, EveryRankGetsTheMeanGradient) {
  const std::vector<torch::Tensor> inputs = {torch::randn({6, 3}), torch::randn({4, 3})};
  std::vector<torch::Tensor> expected;
  {
    const auto g0 = local_gradients(inputs[0], false);
    const auto g1 = local_gradients(inputs[1], true);
    for (size_t k = 0; k < g1.size(); ++k) {
      if (!g1[k].defined()) {
        expected.emplace_back();
      } else {
        expected.push_back(((g0[k].defined() ? g0[k] : torch::zeros_like(g1[k])) + g1[k]) / 2);
      }
    }
  }
  for (const bool overlap : {true, false}) {
    DistributedOptions options = quick();
    options.overlap = overlap;
    options.bucket_bytes = 32;  // several buckets; a.weight (60 bytes) alone in one
    run_ranks(
        2,
        [&](Communicator& comm) {
          const int r = comm.rank();
          TinyNet net;
          GradientAllreduce sync(comm, net.parameters(), options);
          EXPECT_GE(sync.bucket_count(), 4);
          for (int64_t step = 1; step <= 2; ++step) {
            net.zero_grad();
            sync.begin_step(step);
            net.loss(inputs[r], r == 1).backward();
            EXPECT_GE(sync.finish_step(), 0.0);
            const auto params = net.parameters();
            for (size_t k = 0; k < params.size(); ++k) {
              const torch::Tensor& grad = params[k].grad();
              if (!expected[k].defined()) {
                EXPECT_TRUE(!grad.defined() || grad.abs().max().item<float>() == 0) << k;
                continue;
              }
              ASSERT_TRUE(grad.defined()) << "rank " << r << " parameter " << k;
              EXPECT_TRUE(torch::allclose(grad, expected[k], 1e-6, 1e-7))
                  << "rank " << r << " parameter " << k << " overlap " << overlap;
            }
          }
        },
        options);
  }
}

}  // namespace gradient_allreduce_test
}  // namespace nosharing
