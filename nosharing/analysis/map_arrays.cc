#include "nosharing/analysis/map_arrays.h"

#include "nosharing/analysis/sheet_maps.h"

namespace nosharing {

void append_layer_map_arrays(const LayerAnalysis& layer, const std::string& prefix,
                             NamedArrays& out) {
  const auto add = [&](const char* name, const torch::Tensor& tensor) {
    if (tensor.defined() && tensor.numel() > 0) out.emplace_back(prefix + "." + name, tensor);
  };
  add("coordinates", layer.coordinates);
  add("preferred_orientation", layer.orientation.preferred);
  add("orientation_selectivity", layer.orientation.selectivity);
  if (layer.orientation_grid.defined() && layer.orientation.preferred.defined()) {
    add("orientation_map", gather_map(layer.orientation.preferred, layer.orientation_grid));
    add("orientation_map_units", layer.orientation_grid);
  }
  add("dprime", layer.dprime);
  add("rf_units", layer.rf_units);
  add("rf_centres", layer.rf_centres);
}

NamedArrays model_map_arrays(const ModelAnalysis& analysis) {
  NamedArrays out;
  for (const LayerAnalysis& layer : analysis.layers) append_layer_map_arrays(layer, layer.name, out);
  return out;
}

NamedArrays mapformer_map_arrays(const MapformerAnalysis& analysis) {
  NamedArrays out;
  for (const MapformerBlockAnalysis& block : analysis.blocks) {
    append_layer_map_arrays(block.maps, block.name, out);
  }
  if (analysis.head_maps.defined()) out.emplace_back("head.maps", analysis.head_maps);
  return out;
}

}  // namespace nosharing
