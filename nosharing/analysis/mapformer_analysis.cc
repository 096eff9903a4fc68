#include "nosharing/analysis/mapformer_analysis.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "nosharing/analysis/retinotopy.h"
#include "nosharing/core/sheet.h"
#include "nosharing/data/loader.h"
#include "nosharing/core/json_number.h"

namespace nosharing {
namespace {

constexpr int64_t kNoiseImages = 256;
constexpr int64_t kNoiseBatch = 64;

nlohmann::json snr_json(const WeightSnr& snr) {
  return {{"squared", json_number(snr.squared)}, {"abs", json_number(snr.abs)}};
}

// Rows of a float64 [N, K] tensor as nested arrays.
nlohmann::json rows_json(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kFloat64).contiguous();
  nlohmann::json out = nlohmann::json::array();
  for (int64_t i = 0; i < c.size(0); ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (int64_t j = 0; j < c.size(1); ++j) row.push_back(json_number(c[i][j].item<double>()));
    out.push_back(row);
  }
  return out;
}

nlohmann::json vector_json(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kFloat64).contiguous();
  nlohmann::json out = nlohmann::json::array();
  for (int64_t i = 0; i < c.size(0); ++i) out.push_back(json_number(c[i].item<double>()));
  return out;
}

// Running sums over images of one block's maps.
struct BlockSums {
  torch::Tensor attention;  // [L, L]
  double length = 0;        // Σ_b mean_i Σ_j A_bij d_ij
  double cost = 0;          // Σ_b (1/L) Σ_ij A_bij √(1 + d²)
};

}  // namespace

MapformerAnalysis analyze_mapformer(MapformerImpl& model, BatchLoader* validation,
                                    const std::vector<std::string>& class_names,
                                    const AnalysisOptions& options) {
  const MapformerOptions& mo = model.options();
  const int64_t h = model.grid_height(), w = model.grid_width(), L = h * w, D = mo.dim();
  MapformerAnalysis out;
  out.grid_height = h;
  out.grid_width = w;
  out.patch = mo.patch();
  out.dim = D;
  out.input_height = mo.input().height;
  out.input_width = mo.input().width;
  out.class_names = class_names;
  out.positions = position_coordinates(h, w);
  const torch::Tensor distances = pairwise_distances(out.positions, out.positions);  // [L, L]
  const torch::Tensor lengths = model.wiring_lengths();
  const size_t depth = model.blocks().size();

  // Each block's output columns as a sheet of D channels at the h×w grid positions; the
  // responses [B, L, D] are reordered to units u = (c·h + y)·w + x.
  const Sheet sheet(SheetOptions(D, h, w));
  const auto units_of = [](const torch::Tensor& columns) {
    return columns.transpose(1, 2).flatten(1);  // [B, D·L]
  };
  const bool labelled = validation != nullptr && !class_names.empty();
  std::vector<CategoryStatistics> statistics;
  if (labelled) {
    for (size_t k = 0; k < depth; ++k) {
      statistics.emplace_back(static_cast<int64_t>(class_names.size()), D * L);
    }
  }
  std::vector<BlockSums> sums(depth);
  for (auto& s : sums) s.attention = torch::zeros({L, L}, torch::kFloat64);
  int64_t images = 0;
  auto accumulate = [&](const torch::Tensor& batch, const torch::Tensor& labels) {
    const std::vector<torch::Tensor> columns = model.block_features(batch);
    for (size_t k = 0; k < depth; ++k) {
      const torch::Tensor a = model.blocks()[k]->attn->last_attention().to(torch::kFloat64);
      sums[k].attention += a.sum(0);
      sums[k].length += (a * distances).sum(-1).mean(-1).sum().item<double>();
      sums[k].cost += ((a * lengths).sum({1, 2}) / static_cast<double>(L)).sum().item<double>();
      if (labels.defined()) statistics[k].add(units_of(columns[k]), labels);
    }
    images += batch.size(0);
  };
  {
    torch::NoGradGuard no_grad;
    if (validation != nullptr) {
      out.inputs = "validation";
      validation->start_epoch(0);
      while (auto batch = validation->next()) {
        int64_t take = batch->images.size(0);
        if (options.max_images > 0) take = std::min(take, options.max_images - images);
        if (take > 0) {
          accumulate(batch->images.narrow(0, 0, take),
                     labelled ? batch->labels.narrow(0, 0, take) : torch::Tensor());
        }
        if (options.max_images > 0 && images >= options.max_images) break;
      }
    }
    if (images == 0) {
      out.inputs = "noise";
      auto generator = at::detail::createCPUGenerator(options.seed);
      for (int64_t begin = 0; begin < kNoiseImages; begin += kNoiseBatch) {
        accumulate(
            at::randn({kNoiseBatch, mo.input().channels, mo.input().height, mo.input().width},
                      generator, at::TensorOptions()),
            torch::Tensor());
      }
    }
  }
  out.images = images;

  const torch::Tensor own = out.positions;
  for (size_t k = 0; k < depth; ++k) {
    MapformerBlockAnalysis b;
    b.name = fmt::format("block{}", k + 1);
    b.mean_attention = sums[k].attention / static_cast<double>(images);
    b.centres = b.mean_attention.matmul(own);                            // [L, 2]
    const torch::Tensor d2 = pairwise_distances(b.centres, own).pow(2);  // [L (centre), L (p_j)]
    b.spread = (b.mean_attention * d2).sum(1).clamp_min(0).sqrt();
    b.attention_correlation = rf_position_correlation(b.centres, own);
    b.mean_spread = b.spread.mean().item<double>();
    b.mean_shift = (b.centres - own).pow(2).sum(1).sqrt().mean().item<double>();
    b.self_attention = b.mean_attention.diagonal().mean().item<double>();
    b.wiring_length = sums[k].length / static_cast<double>(images);
    b.wiring_cost = sums[k].cost / static_cast<double>(images);

    // RF centres of a seeded sample of the block's output units (unit = column·D + channel).
    const int64_t units = L * D;
    auto generator = at::detail::createCPUGenerator(options.seed + 31 * (k + 1));
    b.rf_units = std::get<0>(at::randperm(units, generator, at::TensorOptions().dtype(at::kLong))
                                 .slice(0, 0, std::min(units, options.rf_units))
                                 .sort());
    const int64_t blocks = static_cast<int64_t>(k) + 1;
    const UnitFunction f = [&model, blocks](const torch::Tensor& x) {
      return model.features(x, blocks).flatten(1);
    };
    RfOptions rf;
    rf.seed = options.seed;
    b.rf_centres =
        rf_centres(f, mo.input().channels, mo.input().height, mo.input().width, b.rf_units, rf);
    b.rf_correlation =
        rf_position_correlation(b.rf_centres, own.index_select(0, b.rf_units.div(D, "floor")));

    b.maps.name = b.name;
    b.maps.layout = sheet_layout_name(sheet.options().layout());
    b.maps.channels = D;
    b.maps.height = h;
    b.maps.width = w;
    b.maps.coordinates = sheet.coordinates();

    const ColumnMlp& mlp = model.blocks()[k]->mlp;
    b.fc1_snr = weight_snr(mlp->fc1->weight.detach());
    b.fc2_snr = weight_snr(mlp->fc2->weight.detach());
    out.blocks.push_back(std::move(b));
  }
  {  // Orientation: every block from one pass of the gratings.
    torch::NoGradGuard no_grad;
    const Gratings gratings = make_gratings(mo.input().channels, mo.input().height,
                                            mo.input().width, options.gratings);
    const std::vector<torch::Tensor> columns = model.block_features(gratings.images);
    for (size_t k = 0; k < depth; ++k) {
      measure_orientation(out.blocks[k].maps, sheet, units_of(columns[k]), gratings, options);
    }
  }
  // After the orientation: the category curves use the sheet pairs measure_orientation draws.
  if (labelled && out.inputs == "validation") {
    for (size_t k = 0; k < depth; ++k) measure_category(out.blocks[k].maps, sheet, statistics[k], options);
  }
  out.head_maps = model.head()->u.detach().to(torch::kFloat64).reshape({-1, h, w}).clone();
  out.embedding_snr = mo.shared_embedding() ? WeightSnr{kMaxWeightSnr, kMaxWeightSnr}
                                            : weight_snr(model.column_embedding()->weight.detach());
  return out;
}

double grid_neighbour_correlation(const torch::Tensor& map) {
  TORCH_CHECK(map.dim() == 2, "grid_neighbour_correlation: expected a map [h, w], got ",
              map.sizes());
  const torch::Tensor m = map.to(torch::kFloat64);
  const int64_t h = m.size(0), w = m.size(1);
  std::vector<torch::Tensor> first, second;
  if (w > 1) {
    first.push_back(m.narrow(1, 0, w - 1).flatten());
    second.push_back(m.narrow(1, 1, w - 1).flatten());
  }
  if (h > 1) {
    first.push_back(m.narrow(0, 0, h - 1).flatten());
    second.push_back(m.narrow(0, 1, h - 1).flatten());
  }
  if (first.empty()) return std::nan("");
  const torch::Tensor a0 = at::cat(first), b0 = at::cat(second);
  const torch::Tensor a = at::cat({a0, b0}), b = at::cat({b0, a0});  // both orders
  const torch::Tensor da = a - a.mean(), db = b - b.mean();
  const double denominator = std::sqrt((da * da).sum().item<double>() * (db * db).sum().item<double>());
  if (!(denominator > 0)) return std::nan("");
  return (da * db).sum().item<double>() / denominator;
}

nlohmann::json mapformer_analysis_to_json(const MapformerAnalysis& analysis) {
  nlohmann::json layers = nlohmann::json::array();
  double length = 0, cost = 0;
  for (const MapformerBlockAnalysis& b : analysis.blocks) {
    length += b.wiring_length;
    cost += b.wiring_cost;
    nlohmann::json j;
    j["name"] = b.name;
    j["sheet"] = {{"layout", "column"},
                  {"channels", analysis.dim},
                  {"height", analysis.grid_height},
                  {"width", analysis.grid_width}};
    j["orientation"] = orientation_json(b.maps);
    j["category"] = category_json(b.maps, analysis.class_names, analysis.images);
    j["retinotopy"] = {{"correlation", json_number(b.rf_correlation)},
                       {"units", b.rf_units.defined() ? b.rf_units.size(0) : 0},
                       {"attention_correlation", json_number(b.attention_correlation)}};
    j["weight_snr"] = json_number(b.fc1_snr.squared);
    j["mlp_weight_snr"] = {{"fc1", snr_json(b.fc1_snr)}, {"fc2", snr_json(b.fc2_snr)}};
    j["attention"] = {{"centres", rows_json(b.centres)},
                      {"spread", vector_json(b.spread)},
                      {"mean_spread", json_number(b.mean_spread)},
                      {"mean_shift", json_number(b.mean_shift)},
                      {"self_attention", json_number(b.self_attention)},
                      {"wiring_length", json_number(b.wiring_length)},
                      {"wiring_cost", json_number(b.wiring_cost)}};
    layers.push_back(j);
  }
  const double blocks = static_cast<double>(std::max<size_t>(1, analysis.blocks.size()));
  const torch::Tensor maps = analysis.head_maps;
  nlohmann::json head_correlation = nlohmann::json::object();
  std::vector<double> correlations;
  for (int64_t c = 0; c < maps.size(0); ++c) {
    const double r = grid_neighbour_correlation(maps[c]);
    const std::string name = static_cast<size_t>(c) < analysis.class_names.size()
                                 ? analysis.class_names[c]
                                 : std::to_string(c);
    head_correlation[name] = json_number(r);
    if (std::isfinite(r)) correlations.push_back(r);
  }
  double mean_correlation = std::nan("");
  if (!correlations.empty()) {
    mean_correlation = 0;
    for (double r : correlations) mean_correlation += r / static_cast<double>(correlations.size());
  }
  return {{"model", "mapformer"},
          {"grid",
           {{"height", analysis.grid_height},
            {"width", analysis.grid_width},
            {"patch", analysis.patch},
            {"dim", analysis.dim}}},
          {"images", analysis.images},
          {"inputs", analysis.inputs},
          {"classes", analysis.class_names},
          {"layers", layers},
          {"head",
           {{"shape", {maps.size(0), maps.size(1), maps.size(2)}},
            {"maps", rows_json(maps.reshape({maps.size(0), -1}))},
            {"neighbour_correlation", head_correlation},
            {"mean_neighbour_correlation", json_number(mean_correlation)}}},
          {"wiring", {{"length", json_number(length / blocks)}, {"cost", json_number(cost / blocks)}}},
          {"embedding_weight_snr", snr_json(analysis.embedding_snr)}};
}

}  // namespace nosharing
