// Missing values, and a number for JSON output: NaN and ±∞ have no JSON spelling, so they are written as null
// (analysis.json, DESIGN §8: "null where a measure does not apply").
#pragma once

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

namespace nosharing {

// "Does not apply": a measure without a value (written as null).
inline constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

inline nlohmann::json json_number(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

// A JSON array of json_number(v · scale).
inline nlohmann::json json_numbers(const std::vector<double>& values, double scale = 1.0) {
  nlohmann::json out = nlohmann::json::array();
  for (double v : values) out.push_back(json_number(v * scale));
  return out;
}

}  // namespace nosharing
