#include "nosharing/run_analysis/compare_runs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nosharing/core/error.h"
#include "tests/run_test_util.h"
#include "tests/test_util.h"

namespace nosharing {
namespace compare_runs_test {  // named, not anonymous: the tests compile in unity batches

using nlohmann::json;

json train_line(int step, int epoch, double images_per_second) {
  return {{"kind", "train"},
          {"step", step},
          {"epoch", epoch},
          {"loss", 1.0},
          {"images_per_second", images_per_second},
          {"seconds", step * 0.1}};
}

json eval_line(int step, int epoch, const std::string& split, json accuracy) {
  return {{"kind", "eval"}, {"step", step}, {"epoch", epoch},      {"split", split},
          {"loss", 0.5},    {"n", 100},     {"accuracy", accuracy}};
}

// Two epochs, one validation evaluation at each epoch end, and a test evaluation last (not
// the validation accuracy).
std::vector<json> two_epochs(double final_accuracy) {
  return {train_line(5, 1, 100),
          train_line(10, 1, 300),
          eval_line(10, 1, "val", 0.5),
          train_line(15, 2, 200),
          eval_line(20, 2, "val", final_accuracy),
          eval_line(20, 2, "test", 0.99)};
}

// An analysis.json with a column-sheet layer (orientation.smoothness null, its channel
// smoothness measured) and a layer reporting only its name and wiring length.
json column_analysis() {
  return {{"layers",
           {{{"name", "lc1"},
             {"sheet", {{"layout", "column"}, {"channels", 4}, {"height", 6}, {"width", 6}}},
             {"orientation",
              {{"smoothness", nullptr},
               {"channel_smoothness", 0.4},
               {"pinwheel_density", nullptr},
               {"selective_fraction", 0.25},
               {"column_spacing", nullptr}}},
             {"category", {{"smoothness", 0.1}, {"patches", 3}}},
             {"wiring_length", 2.0},
             {"weight_snr", 0.01}},
            {{"name", "lc2"}, {"wiring_length", 3.0}}}}};
}

std::string fake_run(const std::string& root, const std::string& name,
                     const std::vector<std::string>& sets, const std::vector<json>& metrics,
                     const json& analysis = nullptr) {
  const std::string dir = root + "/" + name;
  testing::write_fake_run(dir, sets, metrics, analysis);
  return dir;
}

TEST(RunComparisonTest, DifferingKeysLabelTheRunsAndIgnoreThreads) {
  const std::string root = testing::make_temp_dir("compare-keys");
  const std::string a = fake_run(root, "a", {"topography.weight=0.1", "train.threads=1"},
                                 two_epochs(0.7), column_analysis());
  const std::string b = fake_run(root, "b", {"topography.weight=0.5", "train.threads=2"},
                                 two_epochs(0.8), column_analysis());
  const RunComparison comparison = compare_runs({a, b});
  EXPECT_EQ(comparison.differing_keys, std::vector<std::string>{"topography.weight"});
  EXPECT_TRUE(comparison.model_or_data_keys.empty());
  ASSERT_EQ(comparison.runs.size(), 2u);
  EXPECT_EQ(comparison.runs[0].label, "topography.weight=0.1");
  EXPECT_EQ(comparison.runs[1].label, "topography.weight=0.5");
  EXPECT_EQ(comparison.curve_x, "epoch");

  const json j = comparison_to_json(comparison);
  EXPECT_EQ(j["differing_keys"], json({"topography.weight"}));
  EXPECT_EQ(j["different_models_or_data"], false);
  const json& run = j["runs"][1];
  EXPECT_EQ(run["name"], "b");
  EXPECT_EQ(run["config"], json({{"topography.weight", 0.5}}));
  EXPECT_DOUBLE_EQ(run["accuracy"].get<double>(), 0.8);  // the last val line, not the test one
  EXPECT_EQ(run["accuracy_step"], 20);
  EXPECT_EQ(run["accuracy_epoch"], 2);
  EXPECT_DOUBLE_EQ(run["images_per_second"].get<double>(), 200);  // median of 100, 300, 200
  EXPECT_EQ(run["epochs"], 2);
  EXPECT_EQ(run["steps"], 20);
  EXPECT_EQ(run["validation"]["step"], json({10, 20}));
  EXPECT_EQ(run["validation"]["accuracy"], json({0.5, 0.8}));
}

TEST(RunComparisonTest, MissingMeasuresAreNullAndAnUnanalysedRunIsSaidSo) {
  const std::string root = testing::make_temp_dir("compare-nulls");
  const std::string analysed =
      fake_run(root, "analysed", {"train.lr=0.01"}, two_epochs(0.7), column_analysis());
  const std::string bare = fake_run(root, "bare", {"train.lr=0.02"}, {train_line(3, 1, 50)});
  const json j = comparison_to_json(compare_runs({analysed, bare}));

  const json& layer = j["runs"][0]["layers"][0];
  EXPECT_EQ(layer["name"], "lc1");
  EXPECT_EQ(layer["layout"], "column");
  EXPECT_DOUBLE_EQ(layer["smoothness"].get<double>(), 0.4);  // the channel smoothness
  EXPECT_EQ(layer["smoothness_kind"], "channel");
  EXPECT_TRUE(layer["pinwheel_density"].is_null());
  EXPECT_TRUE(layer["column_spacing"].is_null());
  EXPECT_DOUBLE_EQ(layer["selective_fraction"].get<double>(), 0.25);
  EXPECT_EQ(layer["patches"], 3);
  const json& sparse = j["runs"][0]["layers"][1];  // absent fields read as null
  EXPECT_EQ(sparse["name"], "lc2");
  for (const char* key : {"layout", "smoothness", "smoothness_kind", "selective_fraction",
                          "category_smoothness", "patches", "weight_snr"}) {
    EXPECT_TRUE(sparse[key].is_null()) << key;
  }
  EXPECT_DOUBLE_EQ(j["runs"][0]["wiring_length"].get<double>(), 5.0);  // 2 + 3
  EXPECT_EQ(j["runs"][0]["smoothness"],
            json({{"layer", "lc1"}, {"kind", "channel"}, {"value", 0.4}}));

  const json& run = j["runs"][1];
  EXPECT_EQ(run["analysed"], false);
  EXPECT_EQ(run["layers"], json::array());
  EXPECT_TRUE(run["wiring_length"].is_null());
  EXPECT_TRUE(run["smoothness"].is_null());
  EXPECT_TRUE(run["accuracy"].is_null());  // never evaluated
  EXPECT_TRUE(run["accuracy_step"].is_null());
  EXPECT_DOUBLE_EQ(run["images_per_second"].get<double>(), 50);
}

TEST(RunComparisonTest, RunsOfDifferentModelsOrDataAreFlagged) {
  const std::string root = testing::make_temp_dir("compare-models");
  const std::string a = fake_run(root, "a", {"data.path=/data/one"}, two_epochs(0.7));
  const std::string b = fake_run(root, "b", {"data.path=/data/two"}, two_epochs(0.6));
  const json j = comparison_to_json(compare_runs({a, b}));
  EXPECT_EQ(j["different_models_or_data"], true);
  EXPECT_EQ(j["model_or_data_keys"], json({"data.path"}));
  EXPECT_EQ(j["runs"][0]["label"], "data.path=/data/one");
  EXPECT_EQ(j["runs"][1]["data_path"], "/data/two");
}

TEST(RunComparisonTest, IdenticalConfigsAreNamedByDirectoryAndRepeatsDisambiguated) {
  const std::string root = testing::make_temp_dir("compare-labels");
  const std::string a = fake_run(root, "a", {}, two_epochs(0.7));
  const std::string b = fake_run(root, "b", {}, two_epochs(0.7));
  const RunComparison same = compare_runs({a + "/", b});
  EXPECT_TRUE(same.differing_keys.empty());
  EXPECT_EQ(same.runs[0].label, "a");  // a trailing slash does not hide the name
  EXPECT_EQ(same.runs[1].label, "b");

  const std::string c = fake_run(root, "c", {"train.seed=2"}, two_epochs(0.7));
  const RunComparison repeated = compare_runs({a, b, c});
  EXPECT_EQ(repeated.runs[0].label, "train.seed=0 (a)");
  EXPECT_EQ(repeated.runs[1].label, "train.seed=0 (b)");
  EXPECT_EQ(repeated.runs[2].label, "train.seed=2");
}

TEST(RunComparisonTest, EvaluationsWithinAnEpochPlotAgainstSteps) {
  const std::string root = testing::make_temp_dir("compare-steps");
  const std::string a = fake_run(root, "a", {"train.eval_every=5"},
                                 {eval_line(5, 1, "val", 0.3), eval_line(10, 1, "val", 0.4)});
  const std::string b = fake_run(root, "b", {}, two_epochs(0.7));
  EXPECT_EQ(compare_runs({a, b}).curve_x, "step");
}

TEST(RunComparisonTest, ErrorsNameWhatWasExpected) {
  const std::string root = testing::make_temp_dir("compare-errors");
  const std::string a = fake_run(root, "a", {}, two_epochs(0.7));
  try {
    compare_runs({a});
    FAIL() << "one run compared";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("at least two run directories"), std::string::npos)
        << e.what();
  }
  try {
    compare_runs({a, root + "/missing"});
    FAIL() << "a missing directory compared";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find(root + "/missing"), std::string::npos) << e.what();
  }
  try {
    compare_runs({a, root});  // a folder, but not a run directory
    FAIL() << "a folder without config.toml compared";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("not a run directory"), std::string::npos) << e.what();
  }
  testing::write_file(a + "/analysis.json", "{ torn");
  EXPECT_THROW(compare_runs({a, a}), RuntimeError);
}

}  // namespace compare_runs_test
}  // namespace nosharing
