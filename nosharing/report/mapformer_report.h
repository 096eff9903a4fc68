// `mapformer` runs' report/index.html (issue 7). The numbers come from
// nosharing/analysis/mapformer_analysis (run_analysis/ runs the analysis); this file draws:
//   - a summary table per block (attention and RF retinotopy, spread, shift, self-attention,
//     wiring length and cost, column MLP weight SNR),
//   - training curves (loss, validation accuracy, the auxiliary losses aux/wiring and
//     aux/infonce),
//   - per block, the attention fields: every column's position joined to its attention
//     centre, a circle of radius = spread around the centre, centres coloured by position;
//     and the mean attention maps of five columns (the corners and the middle; the reading
//     column outlined),
//   - wiring length, spread and shift across depth,
//   - the head's per-class pooling maps u_c (blue −, white 0, red +).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nosharing/analysis/mapformer_analysis.h"

namespace nosharing {

// Writes `dir`/index.html and its figures for an analysed mapformer; returns the path of
// index.html. `metrics`: the run's metrics.jsonl lines (may be empty).
std::string write_mapformer_html(const std::string& dir, const std::string& title,
                                 const MapformerAnalysis& analysis,
                                 const std::vector<nlohmann::json>& metrics,
                                 const nlohmann::json& config_summary);

}  // namespace nosharing
