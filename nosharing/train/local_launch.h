// `nosharing train --nproc N`: N data-parallel workers of one binary on this host, started
// with torchrun's environment variables (nosharing/train/communicator.h, docs/distributed.md).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace nosharing {

struct LocalLaunchOptions {
  std::string executable;              // the binary every worker runs (e.g. /proc/self/exe)
  std::vector<std::string> arguments;  // argv[1…] of every worker
  int nproc = 2;
  int master_port = 0;  // MASTER_PORT (0: a free port of 127.0.0.1)
  // Extra environment of every worker ("NAME=value"), after the rendezvous variables.
  std::vector<std::string> environment;
  // After a worker failed, how long the others get between SIGTERM and SIGKILL.
  std::chrono::milliseconds grace{std::chrono::seconds(5)};
};

// Starts options.nproc workers with RANK = LOCAL_RANK = 0…N−1, WORLD_SIZE =
// LOCAL_WORLD_SIZE = N, MASTER_ADDR = 127.0.0.1 and MASTER_PORT, and waits for them.
// Each worker runs in its own process group, so a Ctrl-C reaches only this launcher, which
// forwards one SIGINT to every worker (they checkpoint after the same step and exit 130);
// a second Ctrl-C kills them. SIGTERM or SIGHUP is forwarded as SIGTERM. Workers die with
// the launcher (PR_SET_PDEATHSIG). If a worker fails (non-zero exit or a signal), the others
// are stopped (SIGTERM, then SIGKILL after options.grace) and the failure is thrown as one
// line naming the rank, its pid and the cause: a UsageError if the worker exited with 2
// (a configuration error), a RuntimeError otherwise.
// Returns 0 when every worker succeeded, 130 when they were interrupted (a forwarded
// Ctrl-C, or a SIGINT sent to a worker: exit code 130 is not a failure), 128 + the signal
// after a forwarded SIGTERM or SIGHUP.
int run_local_workers(const LocalLaunchOptions& options);

// A TCP port of 127.0.0.1 that was free a moment ago (bound to port 0 and released).
int pick_free_port();

}  // namespace nosharing
