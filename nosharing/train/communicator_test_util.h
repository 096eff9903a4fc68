// Test helpers of the data-parallel pieces: ranks as threads of one process over a c10d
// FileStore (communicator_test.cc, model_sync_test.cc, gradient_allreduce_test.cc).
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "nosharing/train/communicator.h"
#include "tests/test_util.h"

namespace nosharing::testing {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// distributed.* options that give up after `timeout_seconds`.
inline DistributedOptions quick(double timeout_seconds = 5) {
  DistributedOptions options;
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  return options;
}

// Runs body on `world` threads, each one rank with its own Communicator; rethrows the
// first rank's exception.
inline void run_ranks(int world, const std::function<void(Communicator&)>& body,
               const DistributedOptions& options = quick()) {
  const std::string store = make_temp_dir("store") + "/store";
  std::vector<std::exception_ptr> errors(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      try {
        auto comm = Communicator::connect_file(store, r, world, options);
        body(*comm);
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace nosharing::testing
