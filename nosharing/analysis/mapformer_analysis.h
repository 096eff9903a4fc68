// The analysis of a trained `mapformer` (issue 7; DESIGN §5): where each column looks, how
// orderly that is, where each class reads the grid, and how long the wiring is. Numbers
// only: nosharing/report draws them.
//
// Per block k, over the first `max_images` validation images (normalised as in training; N(0,
// 1) noise when the run has no validation split), with p_j the grid position (y, x) of
// column j and d_ij = ‖p_i − p_j‖:
//   attention field  Ā_i = mean_b A_bi, column i's attention map averaged over the images;
//                    centre c_i = Σ_j Ā_ij p_j, spread s_i = √(Σ_j Ā_ij ‖p_j − c_i‖²) (grid
//                    units), shift ‖c_i − p_i‖, self-attention Ā_ii
//   attention retinotopy  Pearson correlation of the centres c_i with the positions p_i
//                    (mean over the y and x axes, analysis/retinotopy.h); NaN when the
//                    centres do not vary (e.g. uniform attention)
//   wiring length    mean_b mean_i Σ_j A_bij d_ij, the mean distance a column reads over (0
//                    for self-attention); wiring cost, the training loss's
//                    mean_b (1/L) Σ_ij A_bij √(1 + d_ij²) (1 for self-attention)
//   RF retinotopy    DESIGN §5's measure: receptive-field centres (centre of mass of
//                    |∂unit/∂input| over random inputs) of `rf_units` units of the block's
//                    output columns, correlated with their columns' positions. The residual
//                    stream keeps every column's own patch, so this stays high; the
//                    attention centres show where the attention itself moved.
//   weight SNR       of the block's column MLP layers over the columns (sharing/weight_snr.h)
//   maps             the block's output columns as a sheet in the column layout (DESIGN §1:
//                    D channels at each of the h×w grid positions, unit u = (c·h + y)·w + x)
//                    measured as an lcnet layer is (analyze.h): orientation preference and
//                    smoothness from the rectified responses to the gratings, d′ per class
//                    and its smoothness and patches from the validation images (not
//                    measured on noise inputs). This is where "do maps emerge?" is answered
//                    for the mapformer: the residual stream is what each column passes on.
// Head: the per-class pooling maps u_c of the factorised head, [C, h, w].
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nosharing/analysis/analyze.h"
#include "nosharing/models/mapformer.h"
#include "nosharing/sharing/weight_snr.h"

namespace nosharing {

class BatchLoader;

struct MapformerBlockAnalysis {
  std::string name;              // "block1", …
  torch::Tensor mean_attention;  // float64 [L, L]: Ā
  torch::Tensor centres;         // float64 [L, 2]: c_i as (y, x), grid units
  torch::Tensor spread;          // float64 [L]
  double attention_correlation = 0;
  double mean_spread = 0;
  double mean_shift = 0;
  double self_attention = 0;  // mean_i Ā_ii
  double wiring_length = 0;
  double wiring_cost = 0;
  torch::Tensor rf_units;    // int64 [N], unit u = column·D + channel of the block's output
  torch::Tensor rf_centres;  // float64 [N, 2], input pixels (y, x)
  double rf_correlation = 0;
  WeightSnr fc1_snr, fc2_snr;
  LayerAnalysis maps;  // orientation and category maps of the block's output columns
};

struct MapformerAnalysis {
  int64_t grid_height = 0, grid_width = 0, patch = 0, dim = 0;
  int64_t input_height = 0, input_width = 0;
  torch::Tensor positions;  // float64 [L, 2], (y, x) grid units
  std::vector<MapformerBlockAnalysis> blocks;
  torch::Tensor head_maps;  // float64 [C, h, w]: u_c
  std::vector<std::string> class_names;
  int64_t images = 0;       // images averaged into the attention fields
  std::string inputs;       // "validation" or "noise"
  WeightSnr embedding_snr;  // the unshared embedding over columns (shared: kMaxWeightSnr)
};

// Regions of a map on the grid: the Pearson correlation of its values at 4-adjacent cells,
// every horizontal and vertical pair in both orders (so the two means agree). 1 for a linear
// ramp, ≈ 0 for independent values, NaN for a constant map or a single cell. map [h, w].
// The head's reading of "regions": how alike neighbouring columns' weights u_c are.
double grid_neighbour_correlation(const torch::Tensor& map);

// `model` in eval mode. validation may be null (then 256 N(0, 1) images drawn with
// options.seed). Uses options.max_images (0: every image the loader serves), rf_units, seed.
MapformerAnalysis analyze_mapformer(MapformerImpl& model, BatchLoader* validation,
                                    const std::vector<std::string>& class_names,
                                    const AnalysisOptions& options);

// analysis.json (DESIGN §8) of a mapformer run: {"model": "mapformer", "grid", "images",
// "inputs", "classes", "layers": [one per block: {"name", "sheet", "orientation" and
// "category" (as analysis_to_json writes them for an lcnet layer), "retinotopy": {"correlation" (RF),
// "attention_correlation", "units"}, "weight_snr" (fc1), "mlp_weight_snr", "attention":
// {"centres", "spread", "mean_spread", "mean_shift", "self_attention", "wiring_length",
// "wiring_cost"}}], "head": {"shape", "maps", "neighbour_correlation" (per class, by name),
// "mean_neighbour_correlation"}, "wiring": {"length", "cost"} (means over
// blocks), "embedding_weight_snr"}. NaN is written as null.
nlohmann::json mapformer_analysis_to_json(const MapformerAnalysis& analysis);

}  // namespace nosharing
