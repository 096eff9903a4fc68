// Test runs: a freshly created run directory and quiet training options writing into it, or
// a run directory written by hand for the code that only reads runs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nosharing/train/trainer.h"

namespace nosharing::testing {

// Creates the run directory `dir` (which must not exist) and returns quiet TrainOptions for it.
TrainOptions new_run(const std::string& dir);

// A run directory without training (for readers such as compare): config.toml from the
// defaults and `sets` ("key=value" as --set takes them), metrics.jsonl with `metrics`, and
// analysis.json when `analysis` is not null. Creates `dir`.
void write_fake_run(const std::string& dir, const std::vector<std::string>& sets,
                    const std::vector<nlohmann::json>& metrics,
                    const nlohmann::json& analysis = nullptr);

}  // namespace nosharing::testing
