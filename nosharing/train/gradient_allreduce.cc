#include "nosharing/train/gradient_allreduce.h"

#include <torch/torch.h>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace nosharing {

struct GradientAllreduce::State {
  struct Slot {
    size_t bucket = 0;
    int64_t offset = 0;  // in the bucket's flat buffer
    bool ready = false;  // gradient copied this step
  };
  struct Bucket {
    torch::Tensor flat;           // [Σ numel], the parameters' dtype; reused every step
    std::vector<size_t> members;  // parameter indices
    int64_t pending = 0;          // members whose gradient is not copied yet
    std::unique_ptr<PendingReduce> work;
    bool launched = false;
  };

  Communicator& comm;
  DistributedOptions options;
  std::vector<torch::Tensor> parameters;
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  std::vector<unsigned> hooks;
  std::mutex mutex;
  bool armed = false;  // between begin_step and finish_step
  int64_t step = 0;
  size_t next_launch = 0;

  State(Communicator& c, const DistributedOptions& o) : comm(c), options(o) {}

  std::string what() const { return fmt::format("the gradient allreduce of step {}", step); }

  // Launches the complete buckets in index order (the same order on every rank).
  void launch_ready() {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      Bucket& bucket = buckets[next_launch++];
      bucket.work = comm.allreduce_sum_async(bucket.flat, what());
      bucket.launched = true;
    }
  }

  void on_gradient(size_t index, const torch::Tensor& grad) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!armed) return;
    Slot& slot = slots[index];
    Bucket& bucket = buckets[slot.bucket];
    torch::Tensor target = bucket.flat.narrow(0, slot.offset, grad.numel());
    TORCH_CHECK(!bucket.launched, "parameter ", index,
                " received a second gradient after its bucket was sent: one backward pass per "
                "step in distributed training");
    if (slot.ready) {
      target.add_(grad.reshape(-1));
      return;
    }
    target.copy_(grad.reshape(-1));
    slot.ready = true;
    if (--bucket.pending == 0) launch_ready();
  }
};

GradientAllreduce::GradientAllreduce(Communicator& comm, std::vector<torch::Tensor> parameters,
                                     const DistributedOptions& options)
    : state_(std::make_unique<State>(comm, options)) {
  State& s = *state_;
  for (auto& p : parameters) {
    if (p.requires_grad()) s.parameters.push_back(p);
  }
  s.slots.resize(s.parameters.size());
  // Reverse order: backward produces the last layers' gradients first. A bucket holds one
  // dtype and at most options.bucket_bytes, unless a single tensor is larger.
  std::vector<int64_t> numels;
  for (size_t k = s.parameters.size(); k-- > 0;) {
    const torch::Tensor& p = s.parameters[k];
    const int64_t size = static_cast<int64_t>(p.element_size());
    bool fresh = s.buckets.empty() || s.buckets.back().flat.scalar_type() != p.scalar_type();
    if (!fresh) fresh = (numels.back() + p.numel()) * size > options.bucket_bytes;
    if (fresh) {
      State::Bucket bucket;
      bucket.flat = torch::empty({0}, p.options().requires_grad(false));  // dtype for now
      s.buckets.push_back(std::move(bucket));
      numels.push_back(0);
    }
    s.slots[k].bucket = s.buckets.size() - 1;
    s.slots[k].offset = numels.back();
    s.buckets.back().members.push_back(k);
    numels.back() += p.numel();
  }
  for (size_t b = 0; b < s.buckets.size(); ++b) {
    s.buckets[b].flat = torch::zeros({numels[b]}, s.buckets[b].flat.options());
  }
  if (options.overlap) {
    for (size_t k = 0; k < s.parameters.size(); ++k) {
      State* state = state_.get();
      s.hooks.push_back(s.parameters[k].register_hook(
          [state, k](torch::Tensor grad) { state->on_gradient(k, grad); }));
    }
  }
}

GradientAllreduce::~GradientAllreduce() {
  State& s = *state_;
  for (size_t k = 0; k < s.hooks.size(); ++k) s.parameters[k].remove_hook(s.hooks[k]);
}

int64_t GradientAllreduce::bucket_count() const {
  return static_cast<int64_t>(state_->buckets.size());
}

void GradientAllreduce::begin_step(int64_t step) {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  s.step = step;
  s.next_launch = 0;
  for (auto& slot : s.slots) slot.ready = false;
  for (auto& bucket : s.buckets) {
    bucket.pending = static_cast<int64_t>(bucket.members.size());
    bucket.launched = false;
    bucket.work.reset();
  }
  s.armed = s.options.overlap;
}

double GradientAllreduce::finish_step() {
  State& s = *state_;
  const auto start = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.armed = false;
    // Without hooks (or for parameters backward did not reach): copy .grad, or zeros.
    for (size_t k = 0; k < s.parameters.size(); ++k) {
      State::Slot& slot = s.slots[k];
      State::Bucket& bucket = s.buckets[slot.bucket];
      if (slot.ready || bucket.launched) continue;
      const torch::Tensor& grad = s.parameters[k].grad();
      torch::Tensor target = bucket.flat.narrow(0, slot.offset, s.parameters[k].numel());
      if (grad.defined()) {
        target.copy_(grad.reshape(-1));
        slot.ready = true;  // a local gradient exists
      } else {
        target.zero_();
      }
      --bucket.pending;
    }
    s.launch_ready();
  }
  TORCH_CHECK(s.next_launch == s.buckets.size(), "gradient buckets left unsent");
  torch::NoGradGuard no_grad;
  for (auto& bucket : s.buckets) {
    bucket.work->wait();
    bucket.work.reset();
    bucket.flat.div_(s.comm.world_size());
    for (size_t k : bucket.members) {
      torch::Tensor& p = s.parameters[k];
      const torch::Tensor average =
          bucket.flat.narrow(0, s.slots[k].offset, p.numel()).view(p.sizes());
      torch::Tensor& grad = p.mutable_grad();
      if (grad.defined()) {
        grad.copy_(average);
      } else if (s.slots[k].ready || average.abs().max().item<double>() != 0) {
        grad = average.clone();
      }
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace nosharing
