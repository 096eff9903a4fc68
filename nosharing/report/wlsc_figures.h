// Pictures of a `wlsc` analysis (numbers come from analysis/wlsc_analysis.h):
//   dictionary.png       every atom as a grey tile (each scaled by its own max |value|,
//                        mid-grey = 0) at its position on the √N×√N sheet, 1-pixel gaps;
//                        atoms without a good Gabor fit get a red frame.
//   orientation_map.png  the fitted orientation θ of each well-fit atom as hue (θ/π around
//                        the colour wheel, so 0° and 180° meet), black where the fit is not
//                        good, one square cell per atom.
//   ringach_plane.svg    the good fits in Ringach's (n_x, n_y) plane (analysis/ringach_plane.h)
//                        as dots, with the macaque reference region n_x, n_y < 0.5 outlined
//                        and the medians in the title.
#pragma once

#include <string>

#include "nosharing/analysis/wlsc_analysis.h"

namespace nosharing {

// `scale`: pixels per patch pixel (dictionary) / per sheet cell (map). RuntimeError naming
// the path when it cannot be written.
void write_dictionary_png(const std::string& path, const WlscAnalysis& analysis, int scale = 3);
void write_orientation_map_png(const std::string& path, const WlscAnalysis& analysis,
                               int scale = 16);
// The SVG text of the Ringach-plane scatter, and the file (RuntimeError naming the path).
std::string ringach_plane_svg(const WlscAnalysis& analysis);
void write_ringach_plane_svg(const std::string& path, const WlscAnalysis& analysis);

}  // namespace nosharing
