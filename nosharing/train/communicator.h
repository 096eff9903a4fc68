// Data-parallel training over LibTorch's c10d with Gloo (DESIGN §8, docs/distributed.md).
//
// A run of W ranks is W processes of `nosharing train`, started by `--nproc N`, torchrun,
// srun, mpirun or a shell loop, that find each other through torchrun's environment
// variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, optional LOCAL_RANK). Rank 0 serves
// a c10d TCPStore at MASTER_ADDR:MASTER_PORT; every rank joins it and a ProcessGroupGloo
// (TCP) over it. No transport of our own: only c10d's collectives.
//
// What is synchronised and how (the trainer uses these pieces):
// - parameters and buffers are broadcast from rank 0 at the start (and after each sleep
//   phase), so every rank holds the same model;
// - gradients are averaged over ranks in buckets (GradientAllreduce), launched from
//   per-parameter autograd hooks while the backward pass is still running;
// - floating buffers (BatchNorm running statistics) are averaged before every evaluation
//   and checkpoint; in training, BatchNorm normalises with each rank's local batch;
// - evaluation is sharded and its sums all-reduced; scalars (losses, flags, clocks) go
//   through small allreduces.
// Every failure of a collective — a rank that died, stalled or never joined — becomes one
// RuntimeError naming the operation and the cause, after at most distributed.timeout_seconds.
#pragma once

#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nosharing/core/config.h"

namespace nosharing {

// torchrun's environment variables. world_size = 1 (or none set): a single process.
struct DistributedEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr;  // host name or address of rank 0's store
  int master_port = 0;      // [1, 65535]
  bool distributed() const { return world_size > 1; }
};

// Reads RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT and LOCAL_RANK through `getenv` (the
// process environment by default). Neither RANK nor WORLD_SIZE set, or WORLD_SIZE = 1 with
// RANK 0: a single process (MASTER_* are then ignored). Anything malformed — a non-integer,
// RANK outside [0, WORLD_SIZE), one of RANK/WORLD_SIZE without the other, a missing
// MASTER_ADDR, a port outside [1, 65535] — is a UsageError naming the variable and value.
using EnvLookup = std::function<const char*(const char*)>;
DistributedEnv read_distributed_env(const EnvLookup& getenv = nullptr);

// distributed.* keys.
struct DistributedOptions {
  // Longest wait of any collective or of the rendezvous before it fails.
  std::chrono::milliseconds timeout{std::chrono::seconds(300)};
  int64_t bucket_bytes = 25 << 20;  // gradient bucket size (one bucket may hold one larger tensor)
  bool overlap = true;              // launch buckets from backward hooks
  static DistributedOptions from_config(const Config& config);
};

// [begin, end) of rank's contiguous share of n items: the first n mod W ranks take one more.
std::pair<int64_t, int64_t> shard_range(int64_t n, int rank, int world_size);

// A pending allreduce (see Communicator::allreduce_sum_async).
class PendingReduce {
 public:
  virtual ~PendingReduce() = default;
  // Blocks until done; a failure is a RuntimeError naming `what`.
  virtual void wait() = 0;
};

// One rank's membership of the group: a c10d Store and a ProcessGroupGloo over it. The
// c10d types stay inside communicator.cc.
class Communicator {
 public:
  virtual ~Communicator() = default;

  // Joins the group of env.world_size ranks through a TCPStore at env.master_addr:
  // env.master_port (served by rank 0). Waits at most options.timeout for every rank; a
  // missing rank, an unreachable or unresolvable address, a port in use or a duplicate
  // RANK is one error line (UsageError for a bad address or duplicate rank, RuntimeError
  // otherwise). The Gloo transport binds GLOO_SOCKET_IFNAME if set, the loopback interface
  // when MASTER_ADDR is a loopback address, else the interface of this host's name.
  static std::unique_ptr<Communicator> connect_tcp(const DistributedEnv& env,
                                                   const DistributedOptions& options);
  // The same through a c10d FileStore at `path` on a file system every rank sees (tests,
  // clusters without a reachable rank 0); the Gloo transport uses the loopback interface
  // unless GLOO_SOCKET_IFNAME is set.
  static std::unique_ptr<Communicator> connect_file(const std::string& path, int rank,
                                                    int world_size,
                                                    const DistributedOptions& options);

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::chrono::milliseconds timeout() const = 0;

  // In place: tensor ← Σ over ranks (same shape, dtype and call order on every rank).
  // `what` names the operation in error messages ("gradient allreduce at step 12").
  virtual void allreduce_sum(torch::Tensor tensor, const std::string& what) = 0;
  virtual std::unique_ptr<PendingReduce> allreduce_sum_async(torch::Tensor tensor,
                                                             const std::string& what) = 0;
  // In place: every tensor ← root's.
  virtual void broadcast(std::vector<torch::Tensor> tensors, int root, const std::string& what) = 0;
  // Σ over ranks of a few scalars (float64; exact for integers below 2^53).
  std::vector<double> sum(const std::vector<double>& values, const std::string& what);
  // Every rank receives root's `text` (through the store).
  virtual std::string broadcast_text(const std::string& text, int root,
                                     const std::string& what) = 0;
};

}  // namespace nosharing
