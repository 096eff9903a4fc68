#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "nosharing/core/config.h"
#include "nosharing/models/model.h"
#include "nosharing/run_analysis/analyze_run.h"
#include "nosharing/train/trainer.h"
#include "tests/run_test_util.h"
#include "tests/test_util.h"

namespace nosharing {
namespace mapformer_run_analysis_test {  // named, not anonymous: the tests compile in unity batches

namespace fs = std::filesystem;

// A tiny trained mapformer run (12×12 images, 3×3 grid) through `analyze`: analysis.json with
// one layer per block and the head maps, and a report whose every figure exists beside it.
TEST(MapformerRunAnalysisTest, AnalyzeWritesTheJsonAndEveryFigure) {
  const std::string root = testing::make_temp_dir("mapformer_run_analysis");
  testing::write_idx_dataset(root + "/data", 120, 12, 12, 12, 3, 5);
  const Config config = Config::resolve(
      std::nullopt,
      {"data.path=" + root + "/data", "model.preset=mapformer-fmnist", "model.dim=8",
       "model.depth=2", "topography.anchors=32", "topography.negatives=32", "train.optimizer=adamw",
       "train.lr=0.005", "train.batch_size=16", "train.epochs=1", "train.threads=1",
       "data.threads=1", "analysis.rf_units=8", "analysis.max_images=10"},
      preset_toml);
  const std::string run = root + "/run";
  train_model(config, testing::new_run(run));

  const AnalyzeRunResult result = analyze_run(run);
  EXPECT_EQ(result.analysis_json, run + "/analysis.json");
  EXPECT_EQ(result.report, run + "/report/index.html");
  const nlohmann::json j = nlohmann::json::parse(testing::read_file(result.analysis_json));
  EXPECT_EQ(j["model"], "mapformer");
  EXPECT_EQ(j["images"], 10);
  EXPECT_EQ(j["inputs"], "validation");
  ASSERT_EQ(j["layers"].size(), 2u);
  EXPECT_EQ(j["layers"][1]["name"], "block2");
  EXPECT_EQ(j["layers"][0]["attention"]["centres"].size(), 9u);
  EXPECT_TRUE(j["layers"][0]["attention"]["wiring_cost"].get<double>() >= 1.0);
  // IDX data sets have the 10 classes of (Fashion-)MNIST.
  const size_t classes = j["classes"].size();
  EXPECT_EQ(classes, 10u);
  EXPECT_EQ(j["head"]["shape"], (nlohmann::json{10, 3, 3}));
  EXPECT_TRUE(j["wiring"]["length"].is_number());

  const std::string html = testing::read_file(result.report);
  const std::regex src("<img src=\"([^\"]+)\"");
  int figures = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), src); it != std::sregex_iterator();
       ++it) {
    const std::string file = (*it)[1];
    EXPECT_EQ(file.find('/'), std::string::npos) << file;
    EXPECT_TRUE(fs::is_regular_file(run + "/report/" + file)) << file;
    ++figures;
  }
  // Loss, accuracy, auxiliary losses, depth; per block: attention field and maps, the
  // orientation map, its legend, the c(d) curve with chance, the normalised curves and a d′
  // map per class; a head map per class.
  EXPECT_EQ(figures, 4 + 2 * (6 + static_cast<int>(classes)) + static_cast<int>(classes));
  EXPECT_TRUE(j["layers"][0]["orientation"]["mean_selectivity"].is_number());
  EXPECT_TRUE(j["layers"][1]["category"]["patches"].is_number());
  EXPECT_NE(html.find("block2_dprime_9.png"), std::string::npos);
  EXPECT_NE(html.find("attention retinotopy"), std::string::npos);
  EXPECT_EQ(html.find("http:"), std::string::npos);  // self-contained (the SVG namespace aside)
}

}  // namespace mapformer_run_analysis_test
}  // namespace nosharing
