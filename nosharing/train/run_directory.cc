#include "nosharing/train/run_directory.h"

#include <torch/version.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include <unistd.h>

#include "nosharing/build_info.h"  // generated: cmake/build_info.cmake
#include "nosharing/core/error.h"
#include "nosharing/core/files.h"
#include "nosharing/core/threads.h"

extern "C" char* openblas_get_config(void);

namespace nosharing {
namespace {

std::string utc_time(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::array<char, 64> buffer{};
  std::strftime(buffer.data(), buffer.size(), format, &tm);
  return buffer.data();
}

}  // namespace

std::string default_run_directory(const std::string& preset) {
  return "runs/" + utc_time("%Y%m%d-%H%M%S") + "-" + preset;
}

void create_run_directory(const std::string& path, bool force) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::exists(path)) {
    if (!fs::is_directory(path)) throw_usage("--out {}: exists and is not a directory", path);
    if (!fs::is_empty(path)) {
      if (!force) {
        throw_usage("--out {}: run directory already exists (use --force to replace it, or "
                    "--resume {} to continue it)",
                    path, path);
      }
      for (const auto& entry : fs::directory_iterator(path)) fs::remove_all(entry.path(), error);
    }
  }
  fs::create_directories(path, error);
  if (!fs::is_directory(path)) {
    throw_runtime("--out {}: cannot create directory: {}", path, error.message());
  }
}

nlohmann::json make_provenance(int threads, const std::string& command_line,
                               const nlohmann::json& extra) {
  std::array<char, 256> host{};
  ::gethostname(host.data(), host.size() - 1);
  const std::string commit = NOSHARING_GIT_COMMIT;  // of the build, not of today's tree
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  // The CLI sets GOMP_SPINCOUNT and OPENBLAS_THREAD_TIMEOUT if unset (core/threads.h).
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  const char* spin_count = std::getenv("GOMP_SPINCOUNT");
  const char* blas_timeout = std::getenv("OPENBLAS_THREAD_TIMEOUT");
  nlohmann::json provenance = {
      {"git_commit", commit.empty() ? nlohmann::json(nullptr) : nlohmann::json(commit)},
      {"git_dirty", NOSHARING_GIT_DIRTY},
      {"libtorch_version", TORCH_VERSION},
      {"blas", openblas_get_config()},
      {"blas_kernel", blas_core_name()},
      {"openblas_coretype_env", coretype ? nlohmann::json(coretype) : nlohmann::json(nullptr)},
      {"omp_wait_policy", wait_policy ? nlohmann::json(wait_policy) : nlohmann::json(nullptr)},
      {"gomp_spincount", spin_count ? nlohmann::json(spin_count) : nlohmann::json(nullptr)},
      {"openblas_thread_timeout",
       blas_timeout ? nlohmann::json(blas_timeout) : nlohmann::json(nullptr)},
      {"threads", threads},
      {"host", host.data()},
      {"command_line", command_line},
      {"started_utc", utc_time("%Y-%m-%dT%H:%M:%SZ")},
  };
  provenance.update(extra);
  return provenance;
}

}  // namespace nosharing
