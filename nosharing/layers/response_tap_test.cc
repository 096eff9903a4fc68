#include "nosharing/layers/response_tap.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace nosharing {
namespace response_tap_test {  // named, not anonymous: the tests compile in unity batches

// responses [B, C, H, W] in the three layouts the taps meet: NCHW, the batch innermost (the
// unshared kernels' outputs) and a permutation neither add_unit_columns fast path covers.
std::vector<torch::Tensor> layouts(const torch::Tensor& nchw) {
  return {nchw.contiguous(), nchw.permute({1, 2, 3, 0}).contiguous().permute({3, 0, 1, 2}),
          nchw.permute({0, 2, 3, 1}).contiguous().permute({0, 3, 1, 2})};
}

TEST(ResponseTapTest, AddUnitColumnsMatchesIndexAddInEveryLayout) {
  torch::manual_seed(0);
  const torch::Tensor units = torch::tensor({5, 0, 17, 5, 23}, torch::kInt64);  // 5 twice
  const torch::Tensor rows = torch::randn({3, 5}, torch::kFloat64);
  const torch::Tensor start = torch::randn({3, 2, 3, 4}, torch::kFloat64);
  const torch::Tensor expected = start.flatten(1).index_add(1, units, rows).view_as(start);
  for (const torch::Tensor& layout : layouts(start)) {
    const torch::Tensor grad = layout.clone();  // clone keeps the strides
    ASSERT_EQ(grad.strides(), layout.strides());
    add_unit_columns(grad, units, rows);
    EXPECT_TRUE(torch::allclose(grad, expected, 0, 1e-15)) << grad.strides();
  }
  EXPECT_THROW(add_unit_columns(start.permute({1, 2, 3, 0}).contiguous().permute({3, 0, 1, 2}),
                                torch::tensor({24}, torch::kInt64), rows.narrow(1, 0, 1)),
               c10::Error);
}

// gather_units through a tap with a sink: the same values and, summed with a task gradient,
// the same input gradient as gather_units without one (autograd's dense gradient).
TEST(ResponseTapTest, TappedGatherEqualsAutograd) {
  torch::manual_seed(1);
  const torch::Tensor units = torch::tensor({1, 4, 9, 22}, torch::kInt64);
  const torch::Tensor weights = torch::randn({3, 4}, torch::kFloat64);
  for (const torch::Tensor& layout : layouts(torch::randn({3, 2, 3, 4}, torch::kFloat64))) {
    SCOPED_TRACE(::testing::PrintToString(layout.strides()));
    const auto loss_of = [&](const torch::Tensor& responses, bool tapped) {
      auto sink = std::make_shared<ResponseGradientSink>();
      const torch::Tensor x = tapped ? tap_responses(responses, sink) : responses * 1;
      const torch::Tensor task = (x * x).sum();  // the rest of the network
      const torch::Tensor selected = gather_units(x, units, tapped ? sink : nullptr);
      EXPECT_TRUE(selected.is_contiguous());
      EXPECT_TRUE(torch::equal(selected, responses.flatten(1).index_select(1, units)));
      return std::make_pair(task + (selected * weights).sum(), sink);
    };
    const torch::Tensor a = layout.clone().requires_grad_();
    const torch::Tensor b = layout.clone().requires_grad_();
    const auto [tapped, sink] = loss_of(a, true);
    tapped.backward();
    loss_of(b, false).first.backward();
    EXPECT_TRUE(torch::allclose(a.grad(), b.grad(), 0, 1e-12));
    EXPECT_TRUE(sink->empty());  // applied and forgotten
  }
}

}  // namespace response_tap_test
}  // namespace nosharing
