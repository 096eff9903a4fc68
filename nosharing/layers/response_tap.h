// A layer's recorded responses with a side door for the gradients of losses that read a few of
// their units (the response losses of topography/: spatial correlation, InfoNCE).
//
// Through plain autograd such a loss returns a gradient the size of the whole response
// (zeros but for the units it read), and where it meets the task's gradient LibTorch 1.13's
// engine sums the two into a third, fresh tensor (InputBuffer): for spatial correlation on
// fmnist-lc-topo, which reads 500 of lc1's 6,272 units, 0.7 ms a step for the zero-filled
// gradients and 0.9 ms for the sums (LibTorch's profiler, a ~14 ms step). Here the network records tap_responses(x, sink) instead of x. A loss that reads
// the tapped tensor defers its part into the sink from its backward and returns no gradient
// for it; the tap's backward, which the engine runs only after every consumer of the tapped
// tensor (the loss included) has delivered, then adds the deferred parts into the task's
// gradient in place, touching only the units the losses read.
#pragma once

#include <ATen/core/ivalue.h>
#include <torch/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace nosharing {

class ResponseGradientSink {
 public:
  // `add` adds a loss's gradient into the response's full gradient, in place (a tensor of the
  // response's sizes and strides). Called from the loss's backward.
  void defer(std::function<void(const torch::Tensor& grad)> add);
  // Runs the deferred adds on `grad` and forgets them. Called from the tap's backward.
  void apply(const torch::Tensor& grad);
  bool empty() const;
  // How often the tap had to add into a copy of the task's gradient (another holder had it:
  // in an lcnet the last layer's, which arrives as a view through flatten).
  int64_t copies() const;
  void note_copy();

 private:
  std::atomic<int64_t> copies_{0};
  mutable std::mutex mutex_;
  std::vector<std::function<void(const torch::Tensor&)>> pending_;
};

// A sink (or null) as an IValue, for an autograd context's saved_data, and back.
c10::IValue sink_capsule(std::shared_ptr<ResponseGradientSink> sink);
std::shared_ptr<ResponseGradientSink> sink_from_capsule(const c10::IValue& capsule);

// `responses` unchanged (an alias in the graph) whose backward adds `sink`'s deferred
// gradients into the incoming gradient.
torch::Tensor tap_responses(const torch::Tensor& responses,
                            std::shared_ptr<ResponseGradientSink> sink);

// Units `units` (int64 [N], in (c, y, x) order) of responses [B, C, H, W] as a contiguous
// [B, N] matrix. Its gradient goes into `sink` when one is given (responses then tapped with
// it) and otherwise back as a zero-filled gradient of the whole response.
torch::Tensor gather_units(const torch::Tensor& responses, const torch::Tensor& units,
                           std::shared_ptr<ResponseGradientSink> sink);

// grad [B, C, H, W] (any strides) += rows [B, N] at units `units`, in place.
void add_unit_columns(const torch::Tensor& grad, const torch::Tensor& units,
                      const torch::Tensor& rows);

}  // namespace nosharing
