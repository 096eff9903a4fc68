// ColumnLinear: the fast kernel against the baddbmm reference (values and gradients) over
// awkward shapes and input layouts, float64 finite differences of both paths, one column
// against torch::linear, thread-count independence, and the module's checks.
#include "nosharing/layers/column_linear.h"

#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "nosharing/core/gradcheck_test_util.h"
#include "nosharing/layers/cpu/column_linear_function.h"
#include "nosharing/layers/cpu/column_linear_kernel.h"

namespace nosharing {
namespace column_linear_test {  // named, not anonymous: the tests compile in unity batches

using ::testing::HasSubstr;

struct Shape {
  int64_t batch, columns, in_features, out_features;
  std::string name;
};

// L = 1, batch 1, D = 1 on either side, all at once, and sizes that are no multiple of any
// SIMD width.
std::vector<Shape> awkward_shapes() {
  return {
      {3, 5, 4, 6, "plain"},           {1, 4, 3, 2, "batch1"},
      {2, 1, 5, 3, "one_column"},      {2, 3, 1, 4, "d_in1"},
      {2, 3, 4, 1, "d_out1"},          {1, 1, 1, 1, "all_ones"},
      {17, 7, 33, 19, "odd_sizes"},
  };
}

// How the input [B, L, D_in] is laid out in memory. The kernel reads the first four in place
// (dense features, rows apart) and copies the last.
enum class Layout { kContiguous, kColumnsFirst, kColumnSlice, kFeatureSlice, kFeaturesStrided };
const Layout kLayouts[] = {Layout::kContiguous, Layout::kColumnsFirst, Layout::kColumnSlice,
                           Layout::kFeatureSlice, Layout::kFeaturesStrided};
const char* layout_name(Layout layout) {
  switch (layout) {
    case Layout::kContiguous: return "contiguous";
    case Layout::kColumnsFirst: return "columns_first";
    case Layout::kColumnSlice: return "column_slice";
    case Layout::kFeatureSlice: return "feature_slice";
    case Layout::kFeaturesStrided: return "features_strided";
  }
  return "?";
}

// The storage a leaf of `layout` lives in, and the [B, L, D_in] view of it the layer gets.
torch::Tensor make_storage(const Shape& s, Layout layout, torch::Dtype dtype) {
  const auto options = torch::TensorOptions().dtype(dtype);
  const int64_t b = s.batch, l = s.columns, d = s.in_features;
  switch (layout) {
    case Layout::kContiguous: return torch::randn({b, l, d}, options);
    case Layout::kColumnsFirst: return torch::randn({l, b, d}, options);
    case Layout::kColumnSlice: return torch::randn({b, 2 * l, d}, options);
    case Layout::kFeatureSlice: return torch::randn({b, l, d + 3}, options);
    case Layout::kFeaturesStrided: return torch::randn({b, d, l}, options);
  }
  return {};
}
torch::Tensor view_of(const torch::Tensor& storage, Layout layout) {
  switch (layout) {
    case Layout::kContiguous: return storage;
    case Layout::kColumnsFirst: return storage.transpose(0, 1);
    case Layout::kColumnSlice: return storage.slice(1, 0, storage.size(1), 2);
    case Layout::kFeatureSlice: return storage.slice(2, 2, storage.size(2) - 1);
    case Layout::kFeaturesStrided: return storage.transpose(1, 2);
  }
  return {};
}

struct Params {
  torch::Tensor storage, weight, bias;
};

Params make_params(const Shape& s, Layout layout, torch::Dtype dtype, uint64_t seed,
                   bool with_bias = true) {
  torch::manual_seed(seed);
  const auto options = torch::TensorOptions().dtype(dtype);
  Params p;
  p.storage = make_storage(s, layout, dtype).requires_grad_();
  p.weight = torch::randn({s.columns, s.out_features, s.in_features}, options).requires_grad_();
  if (with_bias) p.bias = torch::randn({s.columns, s.out_features}, options).requires_grad_();
  return p;
}

// Gradients of sum(out · probe) with respect to the input's storage, weight and bias (if any).
std::vector<torch::Tensor> gradients(const torch::Tensor& out, const Params& p,
                                     const torch::Tensor& probe) {
  std::vector<torch::Tensor> inputs = {p.storage, p.weight};
  if (p.bias.defined()) inputs.push_back(p.bias);
  return torch::autograd::grad({(out * probe).sum()}, inputs);
}

void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, double tolerance,
                  const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const double scale = std::max(1.0, expected.abs().max().item<double>());
  const double error = (actual - expected).abs().max().item<double>();
  EXPECT_LE(error, tolerance * scale) << what << ": max |difference| " << error;
}

std::string error_message(const std::function<void()>& body) {
  try {
    body();
  } catch (const c10::Error& error) {
    return error.what_without_backtrace();
  }
  return "(no c10::Error thrown)";
}

class ColumnLinearShapes : public ::testing::TestWithParam<Shape> {};

TEST_P(ColumnLinearShapes, FastMatchesReferenceInValuesAndGradients) {
  const Shape s = GetParam();
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    const double tolerance = dtype == torch::kFloat ? 1e-5 : 1e-12;
    for (Layout layout : kLayouts) {
      for (bool with_bias : {true, false}) {
        const std::string what = s.name + " " + layout_name(layout) +
                                 (with_bias ? "" : " no bias") +
                                 (dtype == torch::kFloat ? " float" : " double");
        const Params p = make_params(s, layout, dtype, 1, with_bias);
        const torch::Tensor x = view_of(p.storage, layout);
        const torch::Tensor fast = column_linear_forward_fast(x, p.weight, p.bias);
        const torch::Tensor reference = column_linear_reference(x, p.weight, p.bias);
        EXPECT_EQ(fast.sizes(), torch::IntArrayRef({s.batch, s.columns, s.out_features}));
        expect_close(fast, reference, tolerance, what + " forward");
        const torch::Tensor probe = torch::randn_like(reference);
        const auto fast_grads = gradients(fast, p, probe);
        const auto reference_grads = gradients(reference, p, probe);
        for (size_t i = 0; i < fast_grads.size(); ++i) {
          expect_close(fast_grads[i], reference_grads[i], tolerance,
                       what + " gradient " + std::to_string(i));
        }
      }
    }
  }
}

// Both paths against float64 central differences; the input is a non-contiguous view of
// its leaf (columns first) so the strided reads are differentiated too.
TEST_P(ColumnLinearShapes, FiniteDifferencesFloat64) {
  const Shape s = GetParam();
  if (s.batch * s.columns * s.in_features > 400) GTEST_SKIP() << "kept small: O(n) forwards";
  const Params p = make_params(s, Layout::kColumnsFirst, torch::kDouble, 2);
  const std::vector<torch::Tensor> leaves = {p.storage, p.weight, p.bias};
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [](const std::vector<torch::Tensor>& v) {
        return column_linear_forward_fast(v[0].transpose(0, 1), v[1], v[2]);
      },
      leaves))
      << s.name << " fast";
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [](const std::vector<torch::Tensor>& v) {
        return column_linear_reference(v[0].transpose(0, 1), v[1], v[2]);
      },
      leaves))
      << s.name << " reference";
}

INSTANTIATE_TEST_SUITE_P(ColumnLinearAwkward, ColumnLinearShapes,
                         ::testing::ValuesIn(awkward_shapes()),
                         [](const auto& info) { return info.param.name; });

// Every column of the layer is an nn::Linear of its own weight row.
TEST(ColumnLinearTest, EachColumnEqualsTorchLinear) {
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({6, 4, 10});
  const torch::Tensor weight = torch::randn({4, 7, 10});
  const torch::Tensor bias = torch::randn({4, 7});
  const torch::Tensor fast = column_linear_forward_fast(x, weight, bias);
  for (int64_t l = 0; l < 4; ++l) {
    const torch::Tensor expected = torch::linear(x.select(1, l), weight[l], bias[l]);
    EXPECT_TRUE(torch::allclose(fast.select(1, l), expected, 1e-5, 1e-6)) << "column " << l;
  }
  // One column: the layer is torch::linear.
  ColumnLinear single(ColumnLinearOptions(1, 10, 7));
  const torch::Tensor one = x.slice(1, 0, 1);
  EXPECT_TRUE(torch::allclose(single->forward(one).squeeze(1),
                              torch::linear(one.squeeze(1), single->weight[0], single->bias[0]),
                              1e-5, 1e-6));
}

// Restores LibTorch's thread count when a test changes it.
class ThreadsGuard {
 public:
  ThreadsGuard() : saved_(at::get_num_threads()) {}
  ~ThreadsGuard() { at::set_num_threads(saved_); }

 private:
  int saved_;
};

// Columns never share a reduction across threads: results are bitwise the same with 1 or 2
// threads.
TEST(ColumnLinearTest, ResultsIndependentOfThreadCount) {
  ThreadsGuard guard;
  const Shape s{32, 9, 48, 24, "medium"};
  std::vector<torch::Tensor> results[2];
  for (int threads : {1, 2}) {
    at::set_num_threads(threads);
    const Params p = make_params(s, Layout::kContiguous, torch::kFloat, 4);
    const torch::Tensor out = column_linear_forward_fast(p.storage, p.weight, p.bias);
    torch::manual_seed(5);
    const torch::Tensor probe = torch::randn_like(out);
    results[threads - 1] = gradients(out, p, probe);
    results[threads - 1].push_back(out.detach());
  }
  for (size_t i = 0; i < results[0].size(); ++i) {
    EXPECT_TRUE(torch::equal(results[0][i], results[1][i])) << "result " << i;
  }
}

// Only the gradients asked for are computed; an empty batch gives zero weight gradients.
TEST(ColumnLinearTest, PartialAndEmptyGradients) {
  torch::manual_seed(6);
  const torch::Tensor x = torch::randn({3, 2, 4});  // no grad
  const torch::Tensor weight = torch::randn({2, 5, 4}).requires_grad_();
  const torch::Tensor bias = torch::randn({2, 5});  // no grad
  column_linear_forward_fast(x, weight, bias).sum().backward();
  EXPECT_TRUE(torch::allclose(weight.grad(), x.sum(0).unsqueeze(1).expand({2, 5, 4})));

  const torch::Tensor empty = torch::randn({0, 2, 4}).requires_grad_();
  const torch::Tensor w = torch::randn({2, 5, 4}).requires_grad_();
  const torch::Tensor b = torch::randn({2, 5}).requires_grad_();
  const torch::Tensor out = column_linear_forward_fast(empty, w, b);
  EXPECT_EQ(out.sizes(), torch::IntArrayRef({0, 2, 5}));
  out.sum().backward();
  EXPECT_TRUE(torch::equal(w.grad(), torch::zeros_like(w)));
  EXPECT_TRUE(torch::equal(b.grad(), torch::zeros_like(b)));
}

TEST(ColumnLinearTest, ModuleRunsTheFastKernelOrTheReference) {
  ColumnLinear fast(ColumnLinearOptions(5, 4, 3));
  ColumnLinear reference(ColumnLinearOptions(5, 4, 3).reference(true));
  {
    torch::NoGradGuard no_grad;
    reference->weight.copy_(fast->weight);
    reference->bias.copy_(fast->bias);
  }
  const torch::Tensor x = torch::randn({2, 5, 4}).requires_grad_();
  const torch::Tensor expected = column_linear_reference(x, fast->weight, fast->bias);
  EXPECT_TRUE(torch::equal(reference->forward(x), expected));
  EXPECT_TRUE(torch::allclose(fast->forward(x), expected, 1e-5, 1e-6));
  // The reference is differentiable twice; the fast kernel refuses rather than returning
  // constant second-order gradients.
  const auto first = torch::autograd::grad({reference->forward(x).pow(2).sum()}, {x},
                                           /*grad_outputs=*/{}, /*retain_graph=*/true,
                                           /*create_graph=*/true);
  EXPECT_TRUE(first[0].requires_grad());
  EXPECT_THAT(error_message([&] {
                torch::autograd::grad({fast->forward(x).pow(2).sum()}, {x}, {}, true, true);
              }),
              HasSubstr("double backward (create_graph=true) is not supported"));
}

TEST(ColumnLinearTest, InitialisationLikeLinearAndIndependentPerColumn) {
  torch::manual_seed(7);
  ColumnLinear layer(ColumnLinearOptions(64, 100, 50));
  EXPECT_EQ(layer->weight.sizes(), torch::IntArrayRef({64, 50, 100}));
  EXPECT_EQ(layer->bias.sizes(), torch::IntArrayRef({64, 50}));
  const double bound = 1.0 / std::sqrt(100.0);
  EXPECT_LE(layer->weight.abs().max().item<double>(), bound);
  EXPECT_GT(layer->weight.abs().max().item<double>(), 0.95 * bound);
  EXPECT_LE(layer->bias.abs().max().item<double>(), bound);
  EXPECT_FALSE(torch::equal(layer->weight[0], layer->weight[1]));

  ColumnLinear no_bias(ColumnLinearOptions(3, 4, 5).bias(false));
  EXPECT_FALSE(no_bias->bias.defined());
  EXPECT_EQ(no_bias->parameters().size(), 1u);
  const torch::Tensor x = torch::randn({2, 3, 4});
  EXPECT_TRUE(torch::allclose(no_bias->forward(x),
                              column_linear_reference(x, no_bias->weight, {}), 1e-5, 1e-6));
}

TEST(ColumnLinearTest, BadOptionsAndInputsNameTheValue) {
  EXPECT_THAT(error_message([] { ColumnLinear(ColumnLinearOptions(0, 4, 3)); }),
              HasSubstr("ColumnLinear: columns must be >= 1, got 0"));
  EXPECT_THAT(error_message([] { ColumnLinear(ColumnLinearOptions(2, 4, -1)); }),
              HasSubstr("ColumnLinear: out_features must be >= 1, got -1"));
  ColumnLinear layer(ColumnLinearOptions(5, 4, 3));
  EXPECT_THAT(error_message([&] { layer->forward(torch::randn({2, 6, 4})); }),
              HasSubstr("ColumnLinear: expected input [B, 5, 4], got [2, 6, 4]"));
  EXPECT_THAT(error_message([&] { layer->forward(torch::randn({5, 4})); }),
              HasSubstr("got [5, 4]"));
  EXPECT_THAT(error_message([] {
                column_linear_forward_fast(torch::randn({2, 5, 4}), torch::randn({5, 3, 4}),
                                           torch::randn({5, 2}));
              }),
              HasSubstr("bias must be [L, D_out] = [5, 3], got [5, 2]"));
  EXPECT_THAT(error_message([] {
                column_linear_forward_fast(torch::randn({2, 5, 4}),
                                           torch::randn({5, 3, 4}, torch::kDouble), {});
              }),
              HasSubstr("differs from weight dtype"));
  EXPECT_THAT(error_message([] {
                column_linear_forward_fast(torch::randn({2, 5, 4}), torch::randn({4, 3, 4}), {});
              }),
              HasSubstr("weight [4, 3, 4] does not fit input [2, 5, 4]"));
}

TEST(ColumnLinearTest, ReadsStridedInputsInPlace) {
  const torch::Tensor x = torch::randn({4, 6, 8});
  EXPECT_TRUE(column_linear_reads_in_place(x));
  EXPECT_TRUE(column_linear_reads_in_place(torch::randn({6, 4, 8}).transpose(0, 1)));
  EXPECT_TRUE(column_linear_reads_in_place(x.slice(2, 1, 5)));
  EXPECT_FALSE(column_linear_reads_in_place(torch::randn({4, 8, 6}).transpose(1, 2)));
  EXPECT_FALSE(column_linear_reads_in_place(torch::randn({1, 6, 8}).expand({4, 6, 8})));
}

}  // namespace column_linear_test
}  // namespace nosharing
