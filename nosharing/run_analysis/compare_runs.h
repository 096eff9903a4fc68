// Several run directories read side by side for `nosharing compare` (report/run_comparison.h
// holds what is read; report/compare_page.h draws it).
#pragma once

#include <string>
#include <vector>

#include "nosharing/report/run_comparison.h"

namespace nosharing {

// Reads one run directory: config.toml (required: RuntimeError naming the directory when it
// is missing), metrics.jsonl and analysis.json (each optional). Labels are left empty.
ComparedRun read_compared_run(const std::string& dir);

// Reads every run and compares them. Fewer than two runs is a UsageError.
RunComparison compare_runs(const std::vector<std::string>& dirs);

}  // namespace nosharing
