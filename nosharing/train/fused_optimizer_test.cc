#include "nosharing/train/fused_optimizer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <sstream>

namespace nosharing {
namespace fused_optimizer_test {  // named, not anonymous: the tests compile in unity batches

// Parameters of a few shapes, one larger than a parallel task, one that gets no gradient.
std::vector<torch::Tensor> make_parameters() {
  torch::manual_seed(11);
  return {torch::randn({70000}).requires_grad_(), torch::randn({3, 5, 7}).requires_grad_(),
          torch::randn({13}).requires_grad_(), torch::randn({4}).requires_grad_()};
}

std::vector<torch::Tensor> clones(const std::vector<torch::Tensor>& parameters) {
  std::vector<torch::Tensor> out;
  for (const auto& p : parameters) out.push_back(p.detach().clone().requires_grad_());
  return out;
}

// The same gradients for both copies at each step (the last parameter gets none).
void set_gradients(std::vector<torch::Tensor>& a, std::vector<torch::Tensor>& b, int step) {
  torch::manual_seed(100 + step);
  for (size_t i = 0; i + 1 < a.size(); ++i) {
    const torch::Tensor g = torch::randn_like(a[i]) * (1 + step % 3);
    a[i].mutable_grad() = g.clone();
    b[i].mutable_grad() = g.clone();
  }
}

// Within float rounding: the two round differently at each step (the fused loop may contract
// a·b + c into one rounding), and momentum carries each difference on, so the bound is a few
// float epsilons of the parameter's scale per step.
void expect_close(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b,
                  int steps) {
  for (size_t i = 0; i < a.size(); ++i) {
    const double diff = (a[i] - b[i]).abs().max().item<double>();
    const double scale = std::max(1.0, b[i].abs().max().item<double>());
    EXPECT_LE(diff, 4 * 1.19e-7 * scale * steps) << "parameter " << i << ", scale " << scale;
  }
}

// Steps [begin, end) of two optimisers on the same gradients.
void step_both(torch::optim::Optimizer& a, std::vector<torch::Tensor>& a_params,
               torch::optim::Optimizer& b, std::vector<torch::Tensor>& b_params, int begin,
               int end) {
  for (int step = begin; step < end; ++step) {
    set_gradients(a_params, b_params, step);
    a.step();
    b.step();
  }
}

// `to` takes over `from`'s state through a checkpoint archive.
void transfer_state(const torch::optim::Optimizer& from, torch::optim::Optimizer& to) {
  std::stringstream saved;
  torch::serialize::OutputArchive out;
  from.save(out);
  out.save_to(saved);
  torch::serialize::InputArchive in;
  in.load_from(saved);
  to.load(in);
}

// 60 steps of FusedSGD against LibTorch's SGD on the same gradients, for plain SGD, momentum,
// dampening, Nesterov and weight decay, with the learning rate changed on the way.
TEST(FusedOptimizerTest, SgdFollowsLibTorchsSgd) {
  using torch::optim::SGDOptions;
  for (const SGDOptions& options :
       {SGDOptions(0.1), SGDOptions(0.05).momentum(0.9),
        SGDOptions(0.05).momentum(0.9).dampening(0.1).weight_decay(1e-3),
        SGDOptions(0.05).momentum(0.9).nesterov(true).weight_decay(5e-4)}) {
    std::vector<torch::Tensor> fused_params = make_parameters();
    std::vector<torch::Tensor> reference_params = clones(fused_params);
    FusedSGD fused(fused_params, options);
    torch::optim::SGD reference(reference_params, options);
    for (int step = 0; step < 60; ++step) {
      set_gradients(fused_params, reference_params, step);
      if (step == 30) {
        for (auto* o : {static_cast<torch::optim::Optimizer*>(&fused),
                        static_cast<torch::optim::Optimizer*>(&reference)}) {
          o->param_groups()[0].options().set_lr(0.02);
        }
      }
      fused.step();
      reference.step();
    }
    expect_close(fused_params, reference_params, 60);
    EXPECT_EQ(fused.state().size(), reference.state().size());
  }
}

TEST(FusedOptimizerTest, AdamWFollowsLibTorchsAdamW) {
  using torch::optim::AdamWOptions;
  for (const AdamWOptions& options :
       {AdamWOptions(1e-3), AdamWOptions(1e-3).weight_decay(0.05),
        AdamWOptions(3e-3).betas({0.8, 0.99}).eps(1e-6).weight_decay(0)}) {
    std::vector<torch::Tensor> fused_params = make_parameters();
    std::vector<torch::Tensor> reference_params = clones(fused_params);
    FusedAdamW fused(fused_params, options);
    torch::optim::AdamW reference(reference_params, options);
    step_both(fused, fused_params, reference, reference_params, 0, 60);
    expect_close(fused_params, reference_params, 60);
    const auto& fused_state = static_cast<torch::optim::AdamWParamState&>(
        *fused.state().at(c10::guts::to_string(fused_params[0].unsafeGetTensorImpl())));
    EXPECT_EQ(fused_state.step(), 60);
  }
}

// The state is LibTorch's: a fused optimiser's checkpoint resumes in LibTorch's optimiser
// and the other way round, continuing as an uninterrupted run does.
TEST(FusedOptimizerTest, CheckpointsAreInterchangeableWithLibTorchs) {
  const auto options = torch::optim::SGDOptions(0.05).momentum(0.9).nesterov(true);
  std::vector<torch::Tensor> whole_params = make_parameters();
  std::vector<torch::Tensor> parts_params = clones(whole_params);
  torch::optim::SGD whole(whole_params, options);
  FusedSGD first_half(parts_params, options);
  step_both(whole, whole_params, first_half, parts_params, 0, 20);
  torch::optim::SGD second_half(parts_params, options);  // LibTorch's, from the fused state
  transfer_state(first_half, second_half);
  step_both(whole, whole_params, second_half, parts_params, 20, 40);
  expect_close(whole_params, parts_params, 40);

  const auto adamw = torch::optim::AdamWOptions(1e-3).weight_decay(0.05);
  std::vector<torch::Tensor> a_params = make_parameters();
  std::vector<torch::Tensor> b_params = clones(a_params);
  FusedAdamW a(a_params, adamw);
  torch::optim::AdamW b_first(b_params, adamw);
  step_both(a, a_params, b_first, b_params, 0, 10);
  FusedAdamW b_second(b_params, adamw);  // fused, from LibTorch's state
  transfer_state(b_first, b_second);
  step_both(a, a_params, b_second, b_params, 10, 30);
  expect_close(a_params, b_params, 30);
}

// Anything the loops do not cover (here a float64 parameter) takes LibTorch's path.
TEST(FusedOptimizerTest, OtherParametersTakeLibTorchsPath) {
  torch::manual_seed(3);
  torch::Tensor a = torch::randn({10}, torch::kFloat64).requires_grad_();
  torch::Tensor b = a.detach().clone().requires_grad_();
  FusedSGD fused({a}, torch::optim::SGDOptions(0.1).momentum(0.9));
  torch::optim::SGD reference({b}, torch::optim::SGDOptions(0.1).momentum(0.9));
  for (int step = 0; step < 5; ++step) {
    const torch::Tensor g = torch::randn({10}, torch::kFloat64);
    a.mutable_grad() = g.clone();
    b.mutable_grad() = g.clone();
    fused.step();
    reference.step();
  }
  EXPECT_TRUE(torch::equal(a, b));
}

}  // namespace fused_optimizer_test
}  // namespace nosharing
