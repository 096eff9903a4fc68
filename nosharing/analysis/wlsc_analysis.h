// The analysis of a trained `wlsc` dictionary (issue 9): a Gabor fit of every atom, the
// fraction that fits well, and the orientation map on the √N×√N sheet.
//
// Good fit (our criterion, stated with every number): R² ≥ wlsc.good_fit_r2 (default 0.8)
// and the fitted centre inside the patch (is_good_gabor). Orientation map: the fitted θ of
// each atom (the grating orientation that drives it best, radians in [0, π)) at its sheet
// position; atoms without a good fit are NaN — a non-Gabor atom has no orientation — and
// are left out of the smoothness. The smoothness (DESIGN §5) compares θ of pairs of
// well-fit atoms by sheet distance. The sheet is a cortical sheet, one unit per point (atom
// j at (j / side, j % side)): Λ, pinwheels, cluster size and entropy are the cortical
// measures (analysis/orientation_map_measures.h), with selectivity 1 for a good fit and 0
// otherwise, so the pinwheels see atoms without a good fit as weight-0 cells of the polar
// map rather than as holes. The good fits are also placed in Ringach's (n_x, n_y) plane
// (analysis/ringach_plane.h).
#pragma once

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "nosharing/analysis/gabor_fit.h"
#include "nosharing/analysis/orientation_map_measures.h"
#include "nosharing/analysis/ringach_plane.h"
#include "nosharing/models/wlsc.h"

namespace nosharing {

struct WlscAnalysis {
  int64_t side = 0;                     // sheet √N
  int64_t patch_height = 0, patch_width = 0;
  double min_r2 = 0.8;
  std::vector<GaborFit> fits;           // [N], atom j at sheet (j / side, j % side)
  std::vector<bool> good;               // [N]
  double good_fraction = 0;
  double median_r2 = 0;
  torch::Tensor atoms;                  // float64 [N, H, W], the unit-norm atoms
  torch::Tensor orientation_map;        // float64 [side, side], radians; NaN if not good
  torch::Tensor selectivity;            // float64 [side, side]: 1 good fit, 0 otherwise
  // The cortical map measures of the atoms' orientation map (analysis/
  // orientation_map_measures.h: chance-normalised smoothness, Λ, pinwheels, cluster size,
  // entropy), over well-fit atoms; one sheet unit per atom.
  OrientationMapMeasures map;
  RingachPlane ringach;                 // the good fits' (n_x, n_y)
};

// model: a trained wlsc whose inputs are 1 × patch_height × patch_width patches.
WlscAnalysis analyze_wlsc(const WlscImpl& model, int64_t patch_height, int64_t patch_width,
                          double min_r2);

// analysis.json (DESIGN §8) for a wlsc run: one "layer" named "dictionary" with
// "orientation": the measure-map fields (orientation_map_json) plus "mean_selectivity" (null:
// see docs/wlsc.md), null category/retinotopy/weight_snr, and "gabor": {"good_fraction",
// "criterion", "median_r2", "atoms": [{"r2", "good", "orientation_deg", "frequency",
// "phase", "x0", "y0", "sigma_p", "sigma_q", "amplitude"}]}, and "ringach_plane"
// (ringach_plane_json, good fits only). NaN is written as null.
nlohmann::json wlsc_analysis_to_json(const WlscAnalysis& analysis);

}  // namespace nosharing
