// The HTML report of a run (DESIGN §8: report/index.html with its PNG/SVG figures): one
// self-contained page with relative links only, drawn from the numbers of
// nosharing/analysis and the run's metrics.jsonl.
//
// Figures per layer: the orientation map (hue = preferred orientation, brightness =
// selectivity, pinwheels marked: white discs +½, black discs −½), d′ maps per class (blue −,
// red +, category patches outlined), RF centres (input pixels, coloured by sheet position),
// the c(d) smoothness curves; and the training curves.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nosharing/analysis/analyze.h"
#include "nosharing/report/svg.h"

namespace nosharing {

struct ReportInputs {
  std::string title;  // e.g. the run directory's name
  const ModelAnalysis* analysis = nullptr;
  nlohmann::json analysis_json;         // analysis_to_json(*analysis): the numbers table
  std::vector<nlohmann::json> metrics;  // metrics.jsonl lines (may be empty)
  nlohmann::json config_summary;        // a few key = value pairs shown at the top
};

// The report page around `body` (HTML): title, styles, and a status line that counts the
// figures that loaded (the report tests read it in headless Chromium). `title` is escaped.
std::string report_page_html(const std::string& title, const std::string& body);

// The series of the training curves from metrics.jsonl lines: {train, validation} losses per
// optimiser step, or (accuracy) {validation accuracy} alone. The train series is the task
// loss ("task_loss" where a line has it), the quantity the validation loss measures: the
// total "loss" adds the topographic and auxiliary terms, which can be 50× the task loss.
std::vector<PlotSeries> training_curve_series(const std::vector<nlohmann::json>& metrics,
                                              bool accuracy);
// training_curve_series drawn as an SVG document.
std::string training_curve_svg(const std::vector<nlohmann::json>& metrics, bool accuracy);

// One figure of a report: <figure> with the image at relative path `file` and its caption
// (both escaped).
std::string figure(const std::string& file, const std::string& caption);

// The map figures of one layer (orientation map, c(d) curves, RF centres when measured, d′
// maps per class), written into `dir`, and the HTML that shows them. Used for lcnet layers
// and for the mapformer's blocks.
std::string layer_maps_html(const std::string& dir, const LayerAnalysis& layer,
                            const std::vector<std::string>& class_names, int64_t input_height,
                            int64_t input_width);

// Writes `dir`/index.html and its figures (creating `dir`); returns the path of
// index.html. Files are written atomically.
std::string write_html_report(const std::string& dir, const ReportInputs& inputs);

}  // namespace nosharing
