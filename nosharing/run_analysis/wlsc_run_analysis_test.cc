#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "nosharing/core/config.h"
#include "nosharing/models/model.h"
#include "nosharing/run_analysis/analyze_run.h"
#include "nosharing/train/metrics_log.h"
#include "nosharing/train/trainer.h"
#include "tests/run_test_util.h"
#include "tests/test_util.h"

namespace nosharing {
namespace wlsc_run_analysis_test {  // named, not anonymous: the tests compile in unity batches

void write_noise_png(const std::string& path, int w, int h, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> pixels(static_cast<size_t>(w * h));
  for (auto& p : pixels) p = static_cast<uint8_t>(rng() % 256);
  ASSERT_NE(stbi_write_png(path.c_str(), w, h, 1, pixels.data(), w), 0);
}

// End to end on a tiny unlabelled folder: the trainer runs wlsc on its own objective, writes
// train lines with the objective's terms and eval lines with a null accuracy, and the
// report writes analysis.json and both pictures.
TEST(WlscRunAnalysisTest, TrainsOnItsOwnObjectiveAndWritesTheAnalysis) {
  const std::string root = testing::make_temp_dir("wlsc_run_analysis");
  const std::string data = root + "/images";
  std::filesystem::create_directories(data);
  for (int i = 0; i < 4; ++i) write_noise_png(data + "/img" + std::to_string(i) + ".png", 40, 30, i);
  const Config config = Config::resolve(
      std::nullopt,
      {"model.preset=wlsc", "data.path=" + data, "wlsc.atoms=16", "wlsc.steps=5",
       "wlsc.laplacian=[\"codes\", \"atoms\"]", "wlsc.beta=0.01", "patches.size=6",
       "patches.downsample=1", "patches.train=256", "patches.val=64", "data.val_fraction=0.25",
       "train.batch_size=64", "train.epochs=2", "train.threads=1", "data.threads=1",
       "train.log_every=2", "train.optimizer=adamw", "train.lr=0.01"},
      preset_toml);
  const std::string run = root + "/run";
  const TrainResult result = train_model(config, testing::new_run(run));
  EXPECT_EQ(result.state.step, 8);
  EXPECT_FALSE(result.last_eval.has_accuracy);
  EXPECT_EQ(result.last_eval.n, 64);
  int train_lines = 0, eval_lines = 0;
  for (const auto& line : read_metrics(run + "/metrics.jsonl")) {
    if (line["kind"] == "train") {
      ++train_lines;
      for (const char* key : {"loss", "task_loss", "recon", "sparsity", "laplacian/codes",
                              "laplacian/atoms", "active"}) {
        EXPECT_TRUE(line.contains(key)) << key;
      }
      EXPECT_GT(line["loss"].get<double>(), line["task_loss"].get<double>());
    } else if (line["kind"] == "eval") {
      ++eval_lines;
      EXPECT_TRUE(line["accuracy"].is_null());
      EXPECT_GT(line["loss"].get<double>(), 0.0);
    }
  }
  EXPECT_EQ(train_lines, 4);
  EXPECT_GE(eval_lines, 2);

  const AnalyzeRunResult files = analyze_run(run);
  EXPECT_EQ(files.report, run + "/report/dictionary.png");
  EXPECT_TRUE(std::filesystem::exists(files.report));
  EXPECT_TRUE(std::filesystem::exists(run + "/report/orientation_map.png"));
  EXPECT_NE(testing::read_file(run + "/report/ringach_plane.svg").find("Ringach"),
            std::string::npos);
  EXPECT_TRUE(files.maps_npz.empty());  // the dictionary is its own picture
  const nlohmann::json analysis = nlohmann::json::parse(testing::read_file(files.analysis_json));
  EXPECT_EQ(analysis["run"], run);
  EXPECT_EQ(analysis["step"], 8);
  EXPECT_EQ(analysis["schema_version"], 1);
  const nlohmann::json& layer = analysis["layers"][0];
  EXPECT_EQ(layer["name"], "dictionary");
  EXPECT_EQ(layer["gabor"]["atoms"].size(), 16u);
  const double good = layer["gabor"]["good_fraction"].get<double>();
  EXPECT_GE(good, 0.0);
  EXPECT_LE(good, 1.0);
  EXPECT_TRUE(layer["orientation"]["pinwheel_density"].is_null());
  // Ringach's plane over the good fits only.
  const nlohmann::json& ringach = layer["ringach_plane"];
  int64_t good_atoms = 0;
  for (const auto& atom : layer["gabor"]["atoms"]) good_atoms += atom["good"].get<bool>();
  EXPECT_EQ(ringach["count"].get<int64_t>(), good_atoms);
  EXPECT_EQ(ringach["points"].size(), static_cast<size_t>(good_atoms));
  EXPECT_EQ(ringach["reference"].get<double>(), 0.5);
}

}  // namespace wlsc_run_analysis_test
}  // namespace nosharing
