// The fast locally connected path against the unfold+bmm reference and the naive loops:
// values and gradients over awkward shapes, float64 finite differences, thread-count
// independence, and the shape checks.
#include <ATen/Parallel.h>
#include <cblas.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "nosharing/core/large_buffer_pool.h"
#include "nosharing/layers/cpu/locally_connected_function.h"
#include "nosharing/layers/cpu/locally_connected_kernel.h"
#include "nosharing/layers/locally_connected_reference.h"

namespace nosharing {
namespace locally_connected_kernel_test {  // named, not anonymous: the tests compile in unity batches

struct Shape {
  int64_t batch, in_channels, height, width, out_channels, kernel, stride, padding;
  std::string name;
};

// The awkward cases the issue lists, plus one at the benchmark batch size whose position
// blocks are short (C_out = 256) and one with several row bands per thread.
std::vector<Shape> awkward_shapes() {
  return {
      {2, 3, 7, 5, 4, 3, 2, 1, "stride2_pad_half_nonsquare"},
      {2, 3, 6, 6, 4, 3, 1, 0, "pad0"},
      {1, 1, 5, 7, 3, 3, 1, 1, "batch1_cin1_nonsquare"},
      {3, 2, 5, 4, 2, 1, 1, 0, "k1"},
      {2, 2, 5, 5, 3, 5, 1, 0, "k_equals_input"},
      {2, 2, 4, 6, 3, 4, 1, 0, "k_equals_height_even_k"},
      {2, 2, 9, 8, 3, 2, 3, 0, "stride_gt_kernel"},
      {2, 3, 8, 8, 5, 5, 1, 2, "k5_pad2"},
      {2, 2, 11, 6, 3, 5, 2, 2, "k5_s2_p2_nonsquare"},
      {4, 3, 12, 10, 6, 3, 1, 1, "several_bands"},
      {2, 2, 5, 5, 3, 3, 1, 3, "padding_gt_half_kernel"},
  };
}

int64_t out_size(int64_t size, const Shape& s) {
  return (size + 2 * s.padding - s.kernel) / s.stride + 1;
}

struct Params {
  torch::Tensor input, weight, bias;
};

Params make_params(const Shape& s, torch::Dtype dtype, uint64_t seed, bool with_bias = true) {
  torch::manual_seed(seed);
  const auto options = torch::TensorOptions().dtype(dtype);
  const int64_t positions = out_size(s.height, s) * out_size(s.width, s);
  Params p;
  p.input = torch::randn({s.batch, s.in_channels, s.height, s.width}, options).requires_grad_();
  p.weight = torch::randn({positions, s.out_channels, s.in_channels * s.kernel * s.kernel}, options)
                 .requires_grad_();
  if (with_bias) p.bias = torch::randn({positions, s.out_channels}, options).requires_grad_();
  return p;
}

torch::Tensor run_fast(const Params& p, const Shape& s) {
  return locally_connected_forward_fast(p.input, p.weight, p.bias, s.stride, s.padding);
}
torch::Tensor run_reference(const Params& p, const Shape& s) {
  return locally_connected_reference(p.input, p.weight, p.bias, s.kernel, s.stride, s.padding);
}

// Gradients of sum(out · probe) with respect to input, weight and bias (if any).
std::vector<torch::Tensor> gradients(const torch::Tensor& out, const Params& p,
                                     const torch::Tensor& probe) {
  std::vector<torch::Tensor> inputs = {p.input, p.weight};
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

class LocallyConnectedKernelShapes : public ::testing::TestWithParam<Shape> {};

TEST_P(LocallyConnectedKernelShapes, ForwardMatchesReferenceAndNaive) {
  const Shape s = GetParam();
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    const Params p = make_params(s, dtype, 1);
    const double tolerance = dtype == torch::kFloat ? 1e-5 : 1e-12;
    torch::NoGradGuard no_grad;
    const torch::Tensor fast = run_fast(p, s);
    const torch::Tensor reference = run_reference(p, s);
    EXPECT_EQ(fast.sizes(),
              torch::IntArrayRef({s.batch, s.out_channels, out_size(s.height, s),
                                  out_size(s.width, s)}));
    expect_close(fast, reference, tolerance, s.name + " forward vs reference");
    const LocallyConnectedGeometry g =
        make_locally_connected_geometry(p.input, p.weight, s.stride, s.padding);
    expect_close(fast, locally_connected_forward_naive(g, p.input, p.weight, p.bias), tolerance,
                 s.name + " forward vs naive");
  }
}

TEST_P(LocallyConnectedKernelShapes, GradientsMatchReferenceAndNaive) {
  const Shape s = GetParam();
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    const Params p = make_params(s, dtype, 2);
    const double tolerance = dtype == torch::kFloat ? 1e-5 : 1e-12;
    const torch::Tensor fast_out = run_fast(p, s);
    const torch::Tensor probe = torch::randn_like(fast_out);
    const auto fast = gradients(fast_out, p, probe);
    const auto reference = gradients(run_reference(p, s), p, probe);
    const LocallyConnectedGeometry g =
        make_locally_connected_geometry(p.input, p.weight, s.stride, s.padding);
    const LocallyConnectedGrads naive =
        locally_connected_backward_naive(g, probe, p.input.detach(), p.weight.detach());
    const char* names[] = {"grad input", "grad weight", "grad bias"};
    const torch::Tensor naive_grads[] = {naive.input, naive.weight, naive.bias};
    for (size_t i = 0; i < fast.size(); ++i) {
      expect_close(fast[i], reference[i], tolerance, s.name + " " + names[i] + " vs reference");
      expect_close(fast[i], naive_grads[i], tolerance, s.name + " " + names[i] + " vs naive");
    }
  }
}

// Central differences in float64 of sum(out · probe) against the fast backward, on up to 60
// entries of each of input, weight and bias.
TEST_P(LocallyConnectedKernelShapes, FiniteDifferencesFloat64) {
  const Shape s = GetParam();
  const Params p = make_params(s, torch::kDouble, 3);
  const torch::Tensor probe = torch::randn_like(run_fast(p, s));
  const auto analytic = gradients(run_fast(p, s), p, probe);
  const torch::Tensor tensors[] = {p.input, p.weight, p.bias};
  const char* names[] = {"input", "weight", "bias"};
  const double eps = 1e-6;
  torch::NoGradGuard no_grad;
  for (int t = 0; t < 3; ++t) {
    torch::Tensor flat = tensors[t].view(-1);
    const torch::Tensor grad = analytic[t].reshape(-1);
    const int64_t n = flat.numel();
    const torch::Tensor picks = n <= 60 ? torch::arange(n) : torch::randperm(n).slice(0, 0, 60);
    for (int64_t i = 0; i < picks.numel(); ++i) {
      const int64_t index = picks[i].item<int64_t>();
      const double saved = flat[index].item<double>();
      flat[index] = saved + eps;
      const double plus = (run_fast(p, s) * probe).sum().item<double>();
      flat[index] = saved - eps;
      const double minus = (run_fast(p, s) * probe).sum().item<double>();
      flat[index] = saved;
      const double numeric = (plus - minus) / (2 * eps);
      const double exact = grad[index].item<double>();
      EXPECT_NEAR(exact, numeric, 1e-6 * std::max(1.0, std::abs(numeric)))
          << s.name << " d/d" << names[t] << "[" << index << "]";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(LocallyConnectedKernelAwkward, LocallyConnectedKernelShapes,
                         ::testing::ValuesIn(awkward_shapes()),
                         [](const auto& info) { return info.param.name; });

// Restores LibTorch's thread count when a test changes it.
class ThreadsGuard {
 public:
  ThreadsGuard() : saved_(at::get_num_threads()) {}
  ~ThreadsGuard() { at::set_num_threads(saved_); }

 private:
  int saved_;
};

// The scatter of the backward runs in row bands with a fixed order, so results are bitwise
// the same with 1 or 2 threads (not merely close).
TEST(LocallyConnectedKernel, ResultsIndependentOfThreadCount) {
  ThreadsGuard guard;
  const std::vector<Shape> shapes = {{4, 3, 12, 10, 6, 3, 1, 1, "several_bands"},
                                     {16, 8, 8, 8, 256, 3, 1, 1, "short_blocks"},
                                     {8, 3, 16, 16, 16, 5, 2, 2, "k5_s2"}};
  for (const Shape& s : shapes) {
    std::vector<torch::Tensor> results[2];
    for (int threads : {1, 2}) {
      at::set_num_threads(threads);
      const Params p = make_params(s, torch::kFloat, 4);
      const torch::Tensor out = run_fast(p, s);
      const torch::Tensor probe = torch::randn_like(out);
      results[threads - 1] = gradients(out, p, probe);
      results[threads - 1].push_back(out.detach());
    }
    for (size_t i = 0; i < results[0].size(); ++i) {
      EXPECT_TRUE(torch::equal(results[0][i], results[1][i])) << s.name << " result " << i;
    }
  }
}

TEST(LocallyConnectedKernel, BenchmarkSizedShapeMatchesReference) {
  ThreadsGuard guard;
  at::set_num_threads(2);
  const Shape s = {128, 16, 8, 8, 256, 3, 1, 1, "batch128_cout256"};
  const Params p = make_params(s, torch::kFloat, 5);
  const torch::Tensor out = run_fast(p, s);
  const torch::Tensor probe = torch::randn_like(out);
  const auto fast = gradients(out, p, probe);
  const torch::Tensor reference_out = run_reference(p, s);
  const auto reference = gradients(reference_out, p, probe);
  expect_close(out, reference_out, 1e-5, "output");
  for (size_t i = 0; i < fast.size(); ++i) expect_close(fast[i], reference[i], 1e-5, "grad");
}

TEST(LocallyConnectedKernel, WithoutBias) {
  const Shape s = {2, 3, 7, 5, 4, 3, 2, 1, "no_bias"};
  const Params p = make_params(s, torch::kDouble, 6, /*with_bias=*/false);
  const torch::Tensor out = run_fast(p, s);
  const torch::Tensor probe = torch::randn_like(out);
  const auto fast = gradients(out, p, probe);
  const auto reference = gradients(run_reference(p, s), p, probe);
  ASSERT_EQ(fast.size(), 2u);
  for (size_t i = 0; i < 2; ++i) expect_close(fast[i], reference[i], 1e-12, "grad");
}

// Only the gradients asked for are computed; the weight alone (frozen input) still works.
TEST(LocallyConnectedKernel, InputWithoutGradient) {
  const Shape s = {2, 3, 6, 6, 4, 3, 1, 1, "frozen_input"};
  Params p = make_params(s, torch::kDouble, 7);
  p.input = p.input.detach();
  const torch::Tensor out = run_fast(p, s);
  const torch::Tensor probe = torch::randn_like(out);
  const auto fast = torch::autograd::grad({(out * probe).sum()}, {p.weight, p.bias});
  const auto reference =
      torch::autograd::grad({(run_reference(p, s) * probe).sum()}, {p.weight, p.bias});
  for (size_t i = 0; i < 2; ++i) expect_close(fast[i], reference[i], 1e-12, "grad");
}

TEST(LocallyConnectedKernel, RestoresBlasThreads) {
  const int before = openblas_get_num_threads();
  openblas_set_num_threads(2);
  const Shape s = {2, 3, 6, 6, 4, 3, 1, 1, "blas"};
  const Params p = make_params(s, torch::kFloat, 8);
  run_fast(p, s).sum().backward();
  EXPECT_EQ(openblas_get_num_threads(), 2);
  openblas_set_num_threads(before);
}

TEST(LocallyConnectedKernel, ChwnRoundTrip) {
  // Ragged sizes (the tile path), multiples of 8 and 16 (the 8×8 register blocks) and
  // mixtures, float and double: every layout change equals LibTorch's permuted copy.
  for (const auto& sizes : std::vector<std::vector<int64_t>>{
           {5, 3, 7, 9}, {16, 2, 4, 4}, {24, 3, 8, 6}, {13, 4, 4, 4}, {128, 3, 5, 5}}) {
    for (const auto dtype : {torch::kFloat, torch::kDouble}) {
      const torch::Tensor x = torch::randn(sizes, dtype);
      const torch::Tensor chwn = nchw_to_chwn(x);
      EXPECT_TRUE(chwn.is_contiguous());
      EXPECT_TRUE(torch::equal(chwn, x.permute({1, 2, 3, 0}))) << x.sizes();
      EXPECT_TRUE(torch::equal(chwn_to_nchw(chwn), x)) << x.sizes();
    }
  }
  const torch::Tensor x = torch::randn({5, 3, 7, 9});
  const torch::Tensor chwn = nchw_to_chwn(x);
  // A batch-innermost view converts for free.
  const torch::Tensor view = chwn.permute({3, 0, 1, 2});
  EXPECT_TRUE(is_batch_innermost(view));
  EXPECT_FALSE(is_batch_innermost(x));
  EXPECT_EQ(nchw_to_chwn(view).data_ptr(), chwn.data_ptr());
}

// Two layers with a ReLU between them, as in ott-cifar: the first layer's batch-innermost
// output (kept by the ReLU) is read in place by the second, and the gradient flowing back
// between them is batch-innermost too. Values and all gradients match the reference chain.
TEST(LocallyConnectedKernel, ChainedLayersMatchReference) {
  const Shape first = {3, 2, 9, 7, 4, 3, 2, 1, "first"};
  Params p1 = make_params(first, torch::kDouble, 9);
  const Shape second = {3, 4, out_size(first.height, first), out_size(first.width, first), 5, 3,
                        1, 1, "second"};
  Params p2 = make_params(second, torch::kDouble, 10);
  p2.input = torch::Tensor();
  auto chain = [&](auto layer) {
    torch::Tensor hidden = torch::relu(layer(p1.input, p1.weight, p1.bias, first));
    return layer(hidden, p2.weight, p2.bias, second);
  };
  const auto fast_layer = [](const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                             const Shape& s) {
    const torch::Tensor out = locally_connected_forward_fast(x, w, b, s.stride, s.padding);
    EXPECT_TRUE(is_batch_innermost(out));
    return out;
  };
  const auto reference_layer = [](const torch::Tensor& x, const torch::Tensor& w,
                                  const torch::Tensor& b, const Shape& s) {
    return locally_connected_reference(x, w, b, s.kernel, s.stride, s.padding);
  };
  const torch::Tensor fast_out = chain(fast_layer);
  const torch::Tensor reference_out = chain(reference_layer);
  expect_close(fast_out, reference_out, 1e-12, "chained output");
  const torch::Tensor probe = torch::randn_like(fast_out);
  const std::vector<torch::Tensor> leaves = {p1.input, p1.weight, p1.bias, p2.weight, p2.bias};
  const auto fast = torch::autograd::grad({(fast_out * probe).sum()}, leaves);
  const auto reference = torch::autograd::grad({(reference_out * probe).sum()}, leaves);
  for (size_t i = 0; i < leaves.size(); ++i) {
    expect_close(fast[i], reference[i], 1e-12, "chained grad " + std::to_string(i));
  }
}

// The output is batch-innermost but not a view: an in-place ReLU on it is allowed (a view
// made inside a custom Function could not be modified in place).
TEST(LocallyConnectedKernel, OutputAllowsInPlaceOps) {
  const Shape s = {3, 2, 6, 6, 4, 3, 1, 1, "in_place"};
  const Params p = make_params(s, torch::kDouble, 11);
  torch::Tensor out = run_fast(p, s);
  EXPECT_FALSE(out.is_view());
  out.relu_();
  const torch::Tensor probe = torch::randn_like(out);
  const auto fast = gradients(out, p, probe);
  const auto reference = gradients(torch::relu(run_reference(p, s)), p, probe);
  for (size_t i = 0; i < fast.size(); ++i) expect_close(fast[i], reference[i], 1e-12, "grad");
}

// The weight gradient of a large layer is recycled from step to step, not re-faulted.
TEST(LocallyConnectedKernel, LargeBuffersAreRecycled) {
  void* first = nullptr;
  {
    const torch::Tensor t = pooled_empty({3 << 20}, torch::kFloat);  // 12 MB
    first = t.data_ptr();
  }
  EXPECT_GE(pooled_free_bytes(), size_t{12} << 20);
  const torch::Tensor again = pooled_empty({3 << 20}, torch::kFloat);
  EXPECT_EQ(again.data_ptr(), first);
  EXPECT_EQ(pooled_empty({10}, torch::kFloat).numel(), 10);  // small: plain at::empty
  // A batch of inputs (~1.5 MB) is recycled as well, in whole 4 kB pages rather than huge
  // pages, and so is a scratch buffer of ~200 kB.
  for (const int64_t elements : {int64_t{128 * 3 * 32 * 32 + 3000}, int64_t{50 * 1000 + 17}}) {
    // Measured while held and against the size's slack: earlier tests leave buffers in the
    // pool, and a request takes the smallest free one up to 25 % larger.
    const size_t rounded = (static_cast<size_t>(elements) * 4 + 4095) / 4096 * 4096;
    size_t free_while_held = 0;
    {
      const torch::Tensor t = pooled_empty({elements}, torch::kFloat);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data_ptr()) % 4096, 0u);
      free_while_held = pooled_free_bytes();
    }
    const size_t returned = pooled_free_bytes() - free_while_held;
    EXPECT_GE(returned, rounded);
    EXPECT_LE(returned, rounded + rounded / 4);
    const size_t free_before_again = pooled_free_bytes();
    const torch::Tensor again = pooled_empty({elements}, torch::kFloat);
    EXPECT_LT(pooled_free_bytes(), free_before_again);  // served from the pool
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const c10::Error& error) {
    return error.what_without_backtrace();
  }
  return "";
}

TEST(LocallyConnectedKernel, ShapeErrorsNameTheValues) {
  const torch::Tensor input = torch::randn({2, 3, 8, 8});
  const torch::Tensor weight = torch::randn({64, 4, 27});
  // 8×8, k3, s1, p0 gives 6×6 = 36 positions, not 64.
  std::string message = error_of([&] { locally_connected_forward_fast(input, weight, {}, 1, 0); });
  EXPECT_NE(message.find("64 positions"), std::string::npos) << message;
  EXPECT_NE(message.find("36"), std::string::npos) << message;
  message = error_of([&] {
    locally_connected_forward_fast(input, torch::randn({64, 4, 28}), {}, 1, 1);
  });
  EXPECT_NE(message.find("28"), std::string::npos) << message;
  message = error_of([&] {
    locally_connected_forward_fast(input, weight, torch::randn({64, 5}), 1, 1);
  });
  EXPECT_NE(message.find("[64, 4]"), std::string::npos) << message;
  message = error_of([&] { locally_connected_forward_fast(input, weight, {}, 0, 1); });
  EXPECT_NE(message.find("stride"), std::string::npos) << message;
  message = error_of([&] {
    locally_connected_forward_fast(input, weight.to(torch::kDouble), {}, 1, 1);
  });
  EXPECT_NE(message.find("dtype"), std::string::npos) << message;
  message = error_of([&] {
    locally_connected_forward_fast(torch::randn({2, 3, 8}), weight, {}, 1, 1);
  });
  EXPECT_NE(message.find("[2, 3, 8]"), std::string::npos) << message;
}

TEST(LocallyConnectedKernel, DoubleBackwardRefused) {
  const Shape s = {2, 2, 5, 5, 3, 3, 1, 1, "double_backward"};
  const Params p = make_params(s, torch::kDouble, 12);
  const torch::Tensor loss = run_fast(p, s).pow(2).sum();
  const std::string message = error_of([&] {
    torch::autograd::grad({loss}, {p.weight}, {}, /*retain_graph=*/true, /*create_graph=*/true);
  });
  EXPECT_NE(message.find("double backward"), std::string::npos) << message;
}

}  // namespace locally_connected_kernel_test
}  // namespace nosharing
