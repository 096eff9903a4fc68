// Every map measure of DESIGN §5 for every conv-shaped layer of an lcnet, and
// analysis.json (DESIGN §8). Numbers only: nosharing/report draws them.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nosharing/analysis/category.h"
#include "nosharing/analysis/orientation.h"
#include "nosharing/analysis/orientation_map_measures.h"
#include "nosharing/analysis/pinwheels.h"
#include "nosharing/analysis/smoothness.h"
#include "nosharing/analysis/stimuli.h"
#include "nosharing/core/config.h"
#include "nosharing/core/sheet.h"
#include "nosharing/models/lcnet.h"
#include "nosharing/sharing/weight_snr.h"

namespace nosharing {

class BatchLoader;

struct AnalysisOptions {
  GratingOptions gratings;
  SmoothnessOptions smoothness;
  PinwheelOptions pinwheels;
  ClusterOptions clusters;
  PatchOptions patches;
  int64_t max_images = 2000;  // validation images for d′ (0: all the loader serves)
  int64_t rf_units = 256;
  uint64_t seed = 0;

  // Reads the analysis.* keys (and train.seed); UsageError naming a key whose value is out
  // of range (fewer than 8 orientations, 4 phases or 3 periods, …).
  static AnalysisOptions from_config(const Config& config);
};

// The numbers of one layer. Units are in `output.flatten(1)` order: u = (c·H + y)·W + x.
struct LayerAnalysis {
  std::string name;
  bool unshared = true;  // false for the twin's Conv2d layers
  std::string layout = "column";
  int64_t channels = 0, height = 0, width = 0;
  torch::Tensor coordinates;  // float64 [U, 2] sheet (y, x) of every unit
  // One unit per point (hypercolumn, retinotopic): a cortical map, measured as such. On a
  // column sheet the C channels of a position share one point, so pairs at d > 0 are always
  // different channels and a cortical smoothness is ≈ 0 by construction (DESIGN §5): there
  // the curves compare each channel with itself at other positions (per-channel smoothness,
  // a reading of learned sharing) and there is no pinwheel density.
  bool cortical = false;
  double cell_size = 1;  // sheet units per cell of the drawn map
  SheetPairs pairs;      // the sampled unit pairs every curve of the layer uses

  // Orientation.
  OrientationPreference orientation;  // [U] each
  torch::Tensor orientation_grid;     // int64 [Hg, Wg]: the unit drawn at each map cell
  SmoothnessCurve orientation_curve;  // c(d) of preferred orientation
  SmoothnessCurve selectivity_curve;  // c(d) of |Δ selectivity|
  PinwheelResult pinwheels;           // on the orientation map (cortical sheets)
  double selective_fraction = 0;      // circular variance < 0.6
  double cluster_size = 0;            // All-TNN, sheet units (cortical sheets)
  double local_entropy = 0;           // All-TNN, bits (cortical sheets)

  // Category selectivity (empty when the data are unlabelled).
  torch::Tensor dprime;                     // float64 [K, U]
  std::vector<torch::Tensor> dprime_grids;  // per class, int64 [Hg, Wg] units drawn
  std::vector<SmoothnessCurve> dprime_curves;
  std::vector<Components> patches;  // per class, on its d′ map
  double category_smoothness = 0;   // mean over classes of the d′ smoothness

  // Retinotopy.
  torch::Tensor rf_units;    // int64 [N]
  torch::Tensor rf_centres;  // float64 [N, 2] input pixels (y, x)
  double rf_correlation = 0;

  WeightSnr weight_snr;
  double kernel_distance_1 = 0, kernel_distance_4 = 0;
  double wiring_length = 0;  // topography/wiring.h's C on the layer's weights
};

struct ModelAnalysis {
  std::vector<LayerAnalysis> layers;
  std::vector<std::string> class_names;
  int64_t images = 0;                         // validation images behind d′
  int64_t input_height = 0, input_width = 0;  // the model's input, pixels
};

// The two map measures of one layer from its responses, shared by every model's analysis
// (lcnet layers, the mapformer's columns). `layer.coordinates` must hold the sheet positions
// of its units (`sheet.coordinates()`), in the order of `responses`' columns;
// measure_orientation sets the layer's sheet fields (cortical, cell_size, pairs) that
// measure_category then reuses.
//
// Orientation from responses [S, U] to `gratings` (rectified: tuning uses max(r, 0)):
// preference, selectivity, the c(d) curves (silent units left out) and pinwheels.
void measure_orientation(LayerAnalysis& layer, const Sheet& sheet, const torch::Tensor& responses,
                         const Gratings& gratings, const AnalysisOptions& options);
// Category selectivity from accumulated class statistics: d′ per class and unit, its maps,
// patches and smoothness (the mean over classes).
void measure_category(LayerAnalysis& layer, const Sheet& sheet,
                      const CategoryStatistics& statistics, const AnalysisOptions& options);

// The "orientation" and "category" objects of a layer in analysis.json (DESIGN §8).
nlohmann::json orientation_json(const LayerAnalysis& layer);
nlohmann::json category_json(const LayerAnalysis& layer,
                             const std::vector<std::string>& class_names, int64_t images);

// Analyses every conv-shaped layer of `net` (put in eval mode by the caller). `validation`
// serves normalised labelled images (may be null: no category measures); at most
// options.max_images are used. Each layer is measured on its own sheet, `net.sheets()`
// (model.layout).
ModelAnalysis analyze_lcnet(const LcNetImpl& net, BatchLoader* validation,
                            const std::vector<std::string>& class_names,
                            const AnalysisOptions& options);

// analysis.json (DESIGN §8): {"layers": [{"name", "orientation": {"smoothness",
// "pinwheel_density", "mean_selectivity", …}, "category": {"smoothness", "patches", …},
// "retinotopy": {"correlation"}, "weight_snr", …}], …}; NaN is written as null.
nlohmann::json analysis_to_json(const ModelAnalysis& analysis);

}  // namespace nosharing
