// Per-column linear layer benchmark cases (bench/column_linear_bench.cc), called from the one
// main() of nosharing_bench (bench/locally_connected_bench.cc).
#pragma once

#include <string>

namespace nosharing::bench {

// Registers ColumnLinearFwdBwd/{fast,reference,linear}/SHAPE with Google Benchmark.
void register_column_linear_benchmarks();

// True if `shape` names one of the column linear shapes.
bool is_column_linear_shape(const std::string& shape);

// The --one mode for a column linear shape: one measurement, printed as one JSON line.
// METHOD: fast | reference | linear. Returns the process exit code.
int run_column_linear_one(const std::string& method, const std::string& shape, double seconds);

}  // namespace nosharing::bench
