// nosharing analyze, train chaining into it (DESIGN §8), and export of what both wrote.
#include <gtest/gtest.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nosharing/models/model.h"
#include "nosharing/train/run_reader.h"
#include "tests/test_util.h"

namespace nosharing {
namespace analyze_command_test {  // named, not anonymous: the tests compile in unity batches

using testing::make_temp_dir;
using testing::run_cli;
using testing::tiny_train;

std::string last_line(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  const size_t at = text.rfind('\n');
  return at == std::string::npos ? text : text.substr(at + 1);
}

class AnalyzeCommandTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new std::string(make_temp_dir("analyze-data"));
    testing::write_idx_dataset(*data_, 320, 64, 12, 12, 4, 3);
  }
  static void TearDownTestSuite() { delete data_; }
  static std::string* data_;
};
std::string* AnalyzeCommandTest::data_ = nullptr;

TEST_F(AnalyzeCommandTest, TrainEndsWithTheReportAndAnalyzeRewritesIt) {
  namespace fs = std::filesystem;
  const std::string run = make_temp_dir("analyze-run") + "/run";
  const auto trained = run_cli(tiny_train(*data_, run));
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_EQ(last_line(trained.out), run);  // the run directory stays the last line
  EXPECT_NE(trained.out.find("report " + run + "/report/index.html"), std::string::npos)
      << trained.out;
  ASSERT_TRUE(fs::is_regular_file(run + "/analysis.json"));
  ASSERT_TRUE(fs::is_regular_file(run + "/report/index.html"));
  const auto json = nlohmann::json::parse(testing::read_file(run + "/analysis.json"));
  ASSERT_EQ(json["layers"].size(), 2u);
  EXPECT_EQ(json["layers"][1]["name"], "lc2");
  // The default preset has column sheets: the per-channel reading, no cortical map.
  EXPECT_TRUE(json["layers"][0]["orientation"]["channel_smoothness"].is_number());
  EXPECT_TRUE(json["layers"][0]["orientation"]["smoothness"].is_null());
  EXPECT_EQ(json["step"], 4);

  const std::string elsewhere = make_temp_dir("analyze-out") + "/out";
  const auto analyzed = run_cli({"analyze", "--run", run, "--out", elsewhere, "--quiet"});
  ASSERT_EQ(analyzed.exit_code, 0) << analyzed.err;
  EXPECT_EQ(last_line(analyzed.out), elsewhere + "/report/index.html");
  EXPECT_TRUE(fs::is_regular_file(elsewhere + "/analysis.json"));
  for (const auto& entry : fs::recursive_directory_iterator(elsewhere)) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

// Width and height of a PNG, from its IHDR chunk (bytes 16–23, big-endian).
std::pair<int, int> png_size(const std::string& path) {
  const std::string bytes = testing::read_file(path);
  auto be32 = [&](size_t at) {
    return (static_cast<unsigned char>(bytes[at]) << 24) |
           (static_cast<unsigned char>(bytes[at + 1]) << 16) |
           (static_cast<unsigned char>(bytes[at + 2]) << 8) | static_cast<unsigned char>(bytes[at + 3]);
  };
  return bytes.size() >= 24 ? std::make_pair(be32(16), be32(20)) : std::make_pair(0, 0);
}

// Runs whose config says hypercolumn or retinotopic are analysed on those sheets, not on the
// column layout: analysis.json's sheet and the drawn map have the sheet's size.
TEST_F(AnalyzeCommandTest, HypercolumnAndRetinotopicRunsAreMeasuredOnTheirOwnSheets) {
  for (const std::string layout : {"hypercolumn", "retinotopic"}) {
    const std::string run = make_temp_dir("analyze-" + layout) + "/run";
    std::vector<std::string> args = tiny_train(*data_, run);
    args.insert(args.end(), {"--set", "model.layout=" + layout, "--set", "model.sheet_extent=[6.0]"});
    const auto trained = run_cli(args);
    ASSERT_EQ(trained.exit_code, 0) << trained.err;
    const auto json = nlohmann::json::parse(testing::read_file(run + "/analysis.json"));
    const auto& lc1 = json["layers"][0];
    SCOPED_TRACE(layout);
    EXPECT_EQ(lc1["sheet"]["layout"], layout);
    EXPECT_EQ(lc1["sheet"]["cortical"], true);
    EXPECT_EQ(lc1["orientation"]["measured_as"], "cortical map");
    EXPECT_TRUE(lc1["orientation"]["smoothness"].is_number());
    // 4 channels: 2×2 blocks per position, or one cell a tile of side extent / positions.
    const int64_t positions = lc1["sheet"]["height"].get<int64_t>();
    EXPECT_EQ(lc1["sheet"]["width"].get<int64_t>(), positions);
    const int64_t side = layout == "hypercolumn" ? 2 * positions : positions;
    EXPECT_EQ(lc1["sheet"]["map_height"], side);
    EXPECT_EQ(lc1["sheet"]["map_width"], side);
    EXPECT_NEAR(lc1["sheet"]["cell_size"].get<double>(),
                layout == "hypercolumn" ? 1.0 : 6.0 / static_cast<double>(positions), 1e-12);
    const auto [w, h] = png_size(run + "/report/lc1_orientation.png");
    EXPECT_EQ(w % side, 0);
    EXPECT_EQ(w / side, h / side);
    EXPECT_EQ(h, w);
    EXPECT_GE(w / side, 2);  // at least 2 pixels a cell
  }
}

TEST_F(AnalyzeCommandTest, NoAnalyzeSkipsAndErrorsNameTheRun) {
  namespace fs = std::filesystem;
  const std::string run = make_temp_dir("analyze-skip") + "/run";
  std::vector<std::string> args = tiny_train(*data_, run);
  args.push_back("--no-analyze");
  args.push_back("--quiet");
  const auto trained = run_cli(args);
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_EQ(trained.out, run + "\n");
  EXPECT_FALSE(fs::exists(run + "/analysis.json"));

  const auto missing = run_cli({"analyze", "--run", run + "-nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find(run + "-nope"), std::string::npos) << missing.err;
  EXPECT_EQ(run_cli({"analyze"}).exit_code, 2);  // --run is required
}

// A model without a sheet analysis (a resnet): training ends with exit 0 and says so, instead
// of reporting a failed analysis.
TEST_F(AnalyzeCommandTest, TrainOfAModelWithoutMapAnalysisEndsCleanly) {
  namespace fs = std::filesystem;
  const std::string run = make_temp_dir("analyze-resnet") + "/run";
  const auto trained =
      run_cli({"train", "--data", *data_, "--out", run, "--threads", "1", "--set",
               "model.preset=pogodin-resnet20", "--set", "model.channels=[2, 2, 2]", "--set",
               "model.blocks=1", "--set", "train.batch_size=32", "--set", "train.max_steps=2",
               "--set", "train.warmup_steps=1", "--set", "data.threads=1"});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_EQ(last_line(trained.out), run);
  EXPECT_NE(trained.out.find("no map analysis for model.type = resnet"), std::string::npos)
      << trained.out;
  EXPECT_FALSE(fs::exists(run + "/analysis.json"));
}

// export: the checkpoint's parameters and buffers under their module names in a file
// torch::pickle_load (and Python's torch.load, python/tests/test_export.py) reads back, and
// the run's maps.npz beside it; a run without maps.npz is analysed first.
TEST_F(AnalyzeCommandTest, ExportWritesTheWeightsAndTheMapsOfTheRun) {
  namespace fs = std::filesystem;
  const std::string run = make_temp_dir("export-run") + "/run";
  ASSERT_EQ(run_cli(tiny_train(*data_, run)).exit_code, 0);
  ASSERT_TRUE(fs::is_regular_file(run + "/maps.npz"));

  const auto exported = run_cli({"export", "--run", run});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(last_line(exported.out), run + "/model.npz");
  EXPECT_EQ(testing::read_file(run + "/model.npz"), testing::read_file(run + "/maps.npz"));
  const std::string maps = testing::read_file(run + "/maps.npz");
  for (const char* entry : {"lc1.preferred_orientation.npy", "lc1.orientation_selectivity.npy",
                            "lc1.coordinates.npy", "lc1.orientation_map.npy", "lc2.dprime.npy"}) {
    EXPECT_NE(maps.find(entry), std::string::npos) << entry;
  }

  const std::string pickled = testing::read_file(run + "/model.pt");
  const c10::IValue loaded = torch::pickle_load(std::vector<char>(pickled.begin(), pickled.end()));
  ASSERT_TRUE(loaded.isGenericDict());
  const auto weights = loaded.toGenericDict();
  const RunRecord record = read_run(run);
  const Model model = load_trained_model(record);
  const auto parameters = model->named_parameters();
  const auto buffers = model->named_buffers();
  EXPECT_EQ(weights.size(), parameters.size() + buffers.size());
  for (const auto& item : parameters) {
    ASSERT_TRUE(weights.contains(item.key())) << item.key();
    EXPECT_TRUE(torch::equal(weights.at(item.key()).toTensor(), item.value())) << item.key();
  }
  EXPECT_TRUE(weights.contains("lc1.weight"));

  // Elsewhere, from a run whose maps.npz is gone: analysed again, the same maps.
  fs::remove(run + "/maps.npz");
  const std::string out = make_temp_dir("export-out") + "/net.pt";
  const auto again = run_cli({"export", "--run", run, "--out", out, "--quiet"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, fs::path(out).replace_extension(".npz").string() + "\n");
  EXPECT_TRUE(fs::is_regular_file(out));
  EXPECT_EQ(testing::read_file(fs::path(out).replace_extension(".npz").string()), maps);

  const auto not_pt = run_cli({"export", "--run", run, "--out", run + "/weights.bin"});
  EXPECT_EQ(not_pt.exit_code, 2);
  EXPECT_NE(not_pt.err.find("--out " + run + "/weights.bin: expected a file name ending in .pt"),
            std::string::npos) << not_pt.err;
  const auto no_folder = run_cli({"export", "--run", run, "--out", run + "/nope/w.pt"});
  EXPECT_EQ(no_folder.exit_code, 2);
  EXPECT_NE(no_folder.err.find("does not exist"), std::string::npos) << no_folder.err;
  const auto no_run = run_cli({"export", "--run", run + "-nope"});
  EXPECT_EQ(no_run.exit_code, 1);
  EXPECT_NE(no_run.err.find(run + "-nope"), std::string::npos) << no_run.err;
}

}  // namespace analyze_command_test
}  // namespace nosharing
