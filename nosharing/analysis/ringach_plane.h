// Gabor fits in Ringach's (n_x, n_y) plane (issue 27, item 4; seed 004's claim that classical
// sparse coding "far overpredicts well-tuned simple cell receptive field profiles").
//
// Ringach, D. L. (2002). Spatial structure and symmetry of simple-cell receptive fields in
// macaque primary visual cortex. J Neurophysiol 88:455–463. The paper fits each receptive
// field with a Gabor h(x′, y′) = κ·exp(−x′²/2σ_x² − y′²/2σ_y²)·cos(2πf x′ + φ) in a frame
// (x′, y′) rotated so that the carrier modulates along x′, and plots the dimensionless
// n_x = σ_x·f (envelope width across the bars, in carrier periods: how many subfields) against
// n_y = σ_y·f (envelope length along the bars, in periods: how elongated). Our Gabor
// (analysis/gabor_fit.h) has the same form with p = x′ (along the wave vector) and q = y′
// (along the stripes), so n_x = σ_p·f and n_y = σ_q·f; both are invariant to the pixel scale.
// The convention is stated as the issue words it ("(n_x, n_y) = (σ_x·f, σ_y·f)"); the
// equation's exact typography could not be checked against the paper's text from here, only
// its abstract (docs/wlsc.md, "Ringach's plane").
//
// What the paper's abstract says of the macaque data (PubMed 12091567), the only summary we
// could source verbatim: the population "lies approximately on a one-parameter family of
// filter shapes"; independent component analysis and sparse coding "predict receptive fields
// with a larger number of subfields than observed", and do not produce the "broadly tuned in
// orientation and low-pass in spatial frequency" fields common in monkey V1. The issue's
// summary of the figure — most cells at n_x, n_y < 0.5 — is the reference drawn beside our
// atoms (RingachPlaneOptions::reference); its number is the reading, not a value
// quoted from the paper's text.
#pragma once

#include <torch/arg.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

#include "nosharing/analysis/gabor_fit.h"

namespace nosharing {

struct RingachPlaneOptions {
  // The corner of the macaque region: most of Ringach's cells have n_x and n_y below it.
  TORCH_ARG(double, reference) = 0.5;
};

struct RingachPlane {
  double reference = 0.5;
  std::vector<int64_t> units;  // index of each included fit
  std::vector<double> nx, ny;  // σ_p·f and σ_q·f of each included fit
  double median_nx = 0, median_ny = 0;  // NaN without points
  double fraction_below = 0;  // both n_x and n_y < reference; NaN without points
};

// fits [N] and include [N] (e.g. the good-fit flags): the (n_x, n_y) of every included fit.
// UsageError when the sizes differ or the reference is not positive.
RingachPlane ringach_plane(const std::vector<GaborFit>& fits, const std::vector<bool>& include,
                           const RingachPlaneOptions& options = {});

// {"reference", "median_nx", "median_ny", "fraction_below_reference", "count", "source",
//  "points": [{"unit", "nx", "ny"}]}; NaN as null.
nlohmann::json ringach_plane_json(const RingachPlane& plane);

}  // namespace nosharing
