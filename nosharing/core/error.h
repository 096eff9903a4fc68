// Errors the library throws. The library never exits; the CLI maps these to exit codes
// (DESIGN §8): UsageError → 2, everything else → 1. Messages are one line naming the file
// or key, the bad value and what was expected.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace nosharing {

// A mistake in the command line or configuration (unknown key, bad value, impossible
// shape, existing run directory): exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A problem met while running: missing or corrupt file, non-finite loss: exit code 1.
class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void throw_usage(fmt::format_string<Args...> format, Args&&... args) {
  throw UsageError(fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void throw_runtime(fmt::format_string<Args...> format, Args&&... args) {
  throw RuntimeError(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace nosharing
