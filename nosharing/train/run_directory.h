// The run directory (DESIGN §8): config.toml, provenance.json, metrics.jsonl, checkpoint/.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "nosharing/core/config.h"

namespace nosharing {

// runs/<UTC timestamp>-<preset>, e.g. runs/20261122-081500-fmnist-lc.
std::string default_run_directory(const std::string& preset);

// Creates `path`. An existing non-empty directory is a UsageError unless `force`, which
// empties it first.
void create_run_directory(const std::string& path, bool force);

// Where the run came from: git commit of the source tree, LibTorch and BLAS versions,
// the BLAS kernel, threads, host, command line, start time; plus `extra` keys.
nlohmann::json make_provenance(int threads, const std::string& command_line,
                               const nlohmann::json& extra);

}  // namespace nosharing
