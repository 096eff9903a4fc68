// A number for JSON output: NaN and ±∞ have no JSON spelling, so they are written as null
// (analysis.json, DESIGN §8: "null where a measure does not apply").
#pragma once

#include <cmath>
#include <nlohmann/json.hpp>

namespace nosharing {

inline nlohmann::json json_number(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

}  // namespace nosharing
