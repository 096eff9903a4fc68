// The gradient average over ranks, bucketed and overlapped with the backward pass
// (train/communicator.h has the whole picture).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "nosharing/train/communicator.h"

namespace nosharing {

// Averages the gradients of `parameters` over the ranks after each backward pass, in
// buckets of about options.bucket_bytes: each bucket is a flat buffer (allocated once) into
// which the gradients are copied, all-reduced (sum), divided by the world size and copied
// back into each parameter's .grad. Buckets hold parameters in reverse order (the order
// backward produces their gradients) and are launched in index order on every rank, as
// c10d requires the same sequence of collectives everywhere. With options.overlap, a hook
// on each parameter copies its gradient as soon as autograd has computed it and launches
// the bucket once it is complete, so communication overlaps the rest of the backward pass;
// without, every bucket is launched after backward.
// A parameter that received no gradient on this rank contributes zeros; its .grad is set
// only if the average is non-zero (unused everywhere: left undefined, as in one process).
class GradientAllreduce {
 public:
  GradientAllreduce(Communicator& comm, std::vector<torch::Tensor> parameters,
                    const DistributedOptions& options);
  ~GradientAllreduce();
  GradientAllreduce(const GradientAllreduce&) = delete;
  GradientAllreduce& operator=(const GradientAllreduce&) = delete;

  // Before each backward pass; `step` (1-based) names the step in error messages.
  void begin_step(int64_t step);
  // After backward: launches what is left, waits, writes the averaged gradients. Returns
  // the seconds this call spent blocked on communication (with overlap: the part of the
  // allreduce not hidden behind the backward pass).
  double finish_step();

  int64_t bucket_count() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace nosharing
