// The page of `nosharing measure-map`: one orientation map given as an array, its numbers
// (the measure-map JSON, analysis/orientation_map_measures.h) and its figures (the map with
// pinwheels, c(d) with chance, the normalised curve, the radial spectrum), drawn with the
// run report's pieces (map_figures.h). Self-contained, relative links only.
#pragma once

#include <torch/types.h>

#include <nlohmann/json.hpp>
#include <string>

#include "nosharing/analysis/orientation_map_measures.h"

namespace nosharing {

struct MapReportInputs {
  std::string title;          // e.g. the input file's name
  torch::Tensor theta;        // float64 [H, W] radians, NaN = no unit
  torch::Tensor selectivity;  // float64 [H, W] in [0, 1], or undefined
  const OrientationMapMeasures* measures = nullptr;
  nlohmann::json json;  // the measure-map JSON of `measures` (the numbers table)
};

// Writes `dir`/index.html and its figures (`dir` must exist), each file atomically and
// index.html last; returns the path of index.html.
std::string write_map_report(const std::string& dir, const MapReportInputs& inputs);

}  // namespace nosharing
