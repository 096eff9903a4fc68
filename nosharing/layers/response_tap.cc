#include "nosharing/layers/response_tap.h"

#include <ATen/Dispatch.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/torch.h>

#include <utility>

namespace nosharing {

void ResponseGradientSink::defer(std::function<void(const torch::Tensor& grad)> add) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.push_back(std::move(add));
}

void ResponseGradientSink::apply(const torch::Tensor& grad) {
  std::vector<std::function<void(const torch::Tensor&)>> pending;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending.swap(pending_);
  }
  torch::NoGradGuard no_grad;
  for (const auto& add : pending) add(grad);
}

void ResponseGradientSink::note_copy() { copies_.fetch_add(1); }

int64_t ResponseGradientSink::copies() const { return copies_.load(); }

bool ResponseGradientSink::empty() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pending_.empty();
}

namespace {

struct SinkHolder : torch::CustomClassHolder {
  explicit SinkHolder(std::shared_ptr<ResponseGradientSink> s) : sink(std::move(s)) {}
  std::shared_ptr<ResponseGradientSink> sink;
};

}  // namespace

c10::IValue sink_capsule(std::shared_ptr<ResponseGradientSink> sink) {
  return c10::IValue::make_capsule(c10::make_intrusive<SinkHolder>(std::move(sink)));
}

std::shared_ptr<ResponseGradientSink> sink_from_capsule(const c10::IValue& capsule) {
  return c10::static_intrusive_pointer_cast<SinkHolder>(capsule.toCapsule())->sink;
}

namespace {

// References to a gradient that only the engine holds, as a custom function's backward sees
// it (LibTorch 1.13: three — the engine's input buffer, CppNode::apply's copy and the
// by-value argument), measured once on a gradient known to be held by no one else, so that a
// LibTorch with other counts neither copies needlessly nor writes into a shared gradient.
struct ReferenceProbe : public torch::autograd::Function<ReferenceProbe> {
  static torch::Tensor forward(torch::autograd::AutogradContext* /*ctx*/,
                               const torch::Tensor& x) {
    return x.clone();
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* /*ctx*/,
                                                 torch::autograd::variable_list grad_outputs) {
    torch::Tensor grad = std::move(grad_outputs[0]);
    last_count() = static_cast<int64_t>(grad.use_count());
    return {grad};
  }
  static int64_t& last_count() {
    static int64_t count = 0;
    return count;
  }
};

size_t engine_references() {
  static const size_t count = [] {
    torch::AutoGradMode enable(true);
    const torch::Tensor x = torch::ones({4}, torch::requires_grad());
    // The probe's incoming gradient is MulBackward's fresh output: the engine's alone.
    (ReferenceProbe::apply(x) * 2).sum().backward();
    return static_cast<size_t>(ReferenceProbe::last_count());
  }();
  return count;
}

struct ResponseTapFunction : public torch::autograd::Function<ResponseTapFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx,
                               const torch::Tensor& responses,
                               std::shared_ptr<ResponseGradientSink> sink) {
    ctx->saved_data["sink"] = sink_capsule(std::move(sink));
    ctx->saved_data["sizes"] = responses.sizes();
    ctx->saved_data["strides"] = responses.strides();
    ctx->saved_data["dtype"] = static_cast<int64_t>(responses.scalar_type());
    // A fresh alias: a custom function's output must not be its input.
    return responses.alias();
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto holder = sink_from_capsule(ctx->saved_data["sink"]);
    ResponseGradientSink& sink = *holder;
    torch::Tensor grad = std::move(grad_outputs[0]);
    if (sink.empty()) return {grad, {}};
    if (!grad.defined()) {
      grad = torch::zeros(ctx->saved_data["sizes"].toIntVector(),
                          torch::TensorOptions().dtype(static_cast<torch::ScalarType>(
                              ctx->saved_data["dtype"].toInt())));
    }
    // Added in place only into a gradient no one else holds, otherwise into a copy: more
    // references than the engine's own mean another holder (a fan-out that passed one tensor
    // to two consumers), a second reference to the storage a view of it.
    if (grad.use_count() > engine_references() || !grad.has_storage() ||
        grad.storage().use_count() != 1 || !grad.is_non_overlapping_and_dense()) {
      grad = grad.clone();
      sink.note_copy();
    }
    sink.apply(grad);
    return {grad, {}};
  }
};

struct GatherUnitsFunction : public torch::autograd::Function<GatherUnitsFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx,
                               const torch::Tensor& responses, const torch::Tensor& units,
                               std::shared_ptr<ResponseGradientSink> sink) {
    ctx->saved_data["sink"] = sink_capsule(std::move(sink));
    ctx->saved_data["sizes"] = responses.sizes();
    ctx->saved_data["strides"] = responses.strides();
    ctx->save_for_backward({units});
    // Units in (c, y, x) order: with the batch innermost (the unshared kernels' outputs) the
    // map is a [U, B] matrix as it lies and the units are N of its rows; otherwise flatten(1)
    // gives [B, U] (a copy of the whole map only for other strides).
    const torch::Tensor chwn = responses.permute({1, 2, 3, 0});
    if (chwn.is_contiguous()) {
      return chwn.view({-1, responses.size(0)}).index_select(0, units).t().contiguous();
    }
    return responses.flatten(1).index_select(1, units);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    torch::Tensor rows = std::move(grad_outputs[0]);
    if (!rows.defined()) return {{}, {}, {}};
    const torch::Tensor units = ctx->get_saved_variables()[0];
    const auto sink = sink_from_capsule(ctx->saved_data["sink"]);
    if (sink != nullptr) {
      sink->defer([units, rows](const torch::Tensor& grad) {
        add_unit_columns(grad, units, rows);
      });
      return {{}, {}, {}};
    }
    torch::Tensor grad = torch::empty_strided(ctx->saved_data["sizes"].toIntVector(),
                                              ctx->saved_data["strides"].toIntVector(),
                                              rows.options())
                             .zero_();
    add_unit_columns(grad, units, rows);
    return {grad, {}, {}};
  }
};

}  // namespace

void add_unit_columns(const torch::Tensor& grad, const torch::Tensor& units,
                      const torch::Tensor& rows) {
  TORCH_CHECK(grad.dim() == 4 && rows.dim() == 2 && rows.size(0) == grad.size(0) &&
                  rows.size(1) == units.numel(),
              "add_unit_columns: grad ", grad.sizes(), ", ", units.numel(), " units, rows ",
              rows.sizes());
  const torch::Tensor chwn = grad.permute({1, 2, 3, 0});
  if (chwn.is_contiguous() && rows.scalar_type() == grad.scalar_type()) {
    // The batch innermost: unit u's B values are one row of the [U, B] table. A plain loop:
    // ATen's index_add_ took ~0.15 ms for 500 rows of 128 (LibTorch's profiler).
    const torch::Tensor source = rows.contiguous();
    const torch::Tensor indices = units.to(torch::kInt64).contiguous();
    const int64_t batch = grad.size(0), count = indices.numel(), total = chwn.size(0) *
                                                                        chwn.size(1) *
                                                                        chwn.size(2);
    const int64_t* unit = indices.data_ptr<int64_t>();
    for (int64_t n = 0; n < count; ++n) {
      TORCH_CHECK(unit[n] >= 0 && unit[n] < total, "add_unit_columns: unit ", unit[n],
                  " outside the ", total, " units");
    }
    AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "add_unit_columns", [&] {
      scalar_t* table = grad.data_ptr<scalar_t>();
      const scalar_t* r = source.data_ptr<scalar_t>();
      for (int64_t n = 0; n < count; ++n) {
        scalar_t* row = table + unit[n] * batch;
        for (int64_t b = 0; b < batch; ++b) row[b] += r[b * count + n];
      }
    });
    return;
  }
  if (grad.is_contiguous()) {
    grad.view({grad.size(0), -1}).index_add_(1, units, rows);
    return;
  }
  // Other strides: (c, y, x) of each unit, accumulated through advanced indexing.
  const int64_t height = grad.size(2), width = grad.size(3);
  const torch::Tensor c = units.div(height * width, "floor");
  const torch::Tensor y = units.remainder(height * width).div(width, "floor");
  const torch::Tensor x = units.remainder(width);
  grad.permute({1, 2, 3, 0}).index_put_({c, y, x}, rows.t(), /*accumulate=*/true);
}

torch::Tensor gather_units(const torch::Tensor& responses, const torch::Tensor& units,
                           std::shared_ptr<ResponseGradientSink> sink) {
  TORCH_CHECK(responses.dim() == 4, "gather_units: expected responses [B, C, H, W], got ",
              responses.sizes());
  return GatherUnitsFunction::apply(responses, units.to(torch::kInt64).contiguous(),
                                    std::move(sink));
}

torch::Tensor tap_responses(const torch::Tensor& responses,
                            std::shared_ptr<ResponseGradientSink> sink) {
  TORCH_CHECK(sink != nullptr, "tap_responses: no sink");
  engine_references();  // measured here, outside any backward, on the first tap
  return ResponseTapFunction::apply(responses, std::move(sink));
}

}  // namespace nosharing
