// The page of `nosharing compare`: compare.json and index.html with its SVG figures, drawn
// from a RunComparison (run_comparison.h). The page shows a table of the runs (differing
// keys, accuracy, images/s, epochs), a table of the per-layer map measures, accuracy against
// smoothness and against wiring length (one labelled point per run), and the runs'
// validation curves on one plot; it says when runs were not analysed or are of different
// models or data.
#pragma once

#include <string>

#include "nosharing/report/run_comparison.h"

namespace nosharing {

struct ComparisonFiles {
  std::string json;   // dir/compare.json
  std::string index;  // dir/index.html
};

// Writes `dir`/compare.json, `dir`/index.html and its figures (creating `dir`; every file
// atomically) and returns the paths.
ComparisonFiles write_comparison(const std::string& dir, const RunComparison& comparison);

// The colour of the i-th run, shared by the tables and every figure.
std::string comparison_run_color(size_t i);

}  // namespace nosharing
