// The per-unit maps of an analysis as named arrays, for tools outside nosharing (`nosharing
// export` writes them as an .npz; numpy.load gives each back). The numbers of analysis.json
// are summaries; these are the maps they summarise.
#pragma once

#include <string>

#include "nosharing/analysis/analyze.h"
#include "nosharing/analysis/mapformer_analysis.h"
#include "nosharing/data/npz.h"

namespace nosharing {

// Appends one layer's maps to `out`, every name prefixed "<prefix>.":
//   coordinates             [U, 2]  sheet (y, x) of every unit, u = (c·H + y)·W + x
//   preferred_orientation   [U]     radians in [0, π), from gratings
//   orientation_selectivity [U]     |R| in [0, 1] (circular variance = 1 − |R|)
//   orientation_map         [Hg, Wg] the drawn map: preferred orientation of the unit at
//                                   each cell (a hypercolumn sheet: every unit; a column
//                                   sheet: each position's most selective channel)
//   orientation_map_units   [Hg, Wg] the unit u drawn at each cell
//   dprime                  [K, U]  category selectivity per class (labelled data only)
//   rf_units [N], rf_centres [N, 2] receptive-field centres (input pixels) of sampled units
// Tensors the analysis left undefined (no labels, no gratings) are skipped.
void append_layer_map_arrays(const LayerAnalysis& layer, const std::string& prefix,
                             NamedArrays& out);

// Every analysed layer of an lcnet, prefixed with the layer's name ("lc1", …).
NamedArrays model_map_arrays(const ModelAnalysis& analysis);

// Every block of a Mapformer (prefixed "block1", …; the block's columns as its units) and
// the factorised head's class maps as "head.maps" [C, h, w].
NamedArrays mapformer_map_arrays(const MapformerAnalysis& analysis);

}  // namespace nosharing
