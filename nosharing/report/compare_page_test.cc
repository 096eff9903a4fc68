#include "nosharing/report/compare_page.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "nosharing/run_analysis/compare_runs.h"
#include "tests/run_test_util.h"
#include "tests/test_util.h"

namespace nosharing {
namespace compare_page_test {  // named, not anonymous: the tests compile in unity batches

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<json> sweep_metrics(double final_accuracy) {
  std::vector<json> lines;
  for (int epoch = 1; epoch <= 3; ++epoch) {
    lines.push_back({{"kind", "train"},
                     {"step", 10 * epoch},
                     {"epoch", epoch},
                     {"images_per_second", 900.0 + epoch}});
    lines.push_back({{"kind", "eval"},
                     {"step", 10 * epoch},
                     {"epoch", epoch},
                     {"split", "val"},
                     {"accuracy", final_accuracy - 0.1 * (3 - epoch)},
                     {"loss", 1.0}});
  }
  return lines;
}

json sweep_analysis(double smoothness, double wiring) {
  auto layer = [&](const std::string& name, double scale) {
    return json{{"name", name},
                {"sheet", {{"layout", "hypercolumn"}}},
                {"orientation",
                 {{"smoothness", smoothness * scale},
                  {"pinwheel_density", 3.1},
                  {"selective_fraction", 0.5},
                  {"column_spacing", 6.0}}},
                {"category", {{"smoothness", 0.2}, {"patches", 4}}},
                {"wiring_length", wiring * scale},
                {"weight_snr", 0.02}};
  };
  return {{"layers", {layer("lc1", 1.0), layer("lc2", 0.5)}}};
}

// A loss-weight sweep of three runs (one not analysed) over two data folders, one of whose
// names needs escaping; its page, shared by the tests below.
class ComparePageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string root = testing::make_temp_dir("compare-page");
    std::vector<std::string> runs;
    const double weights[] = {0.0, 0.5, 2.0};
    for (int i = 0; i < 3; ++i) {
      runs.push_back(root + "/run-" + std::to_string(i));
      testing::write_fake_run(runs.back(),
                              {"topography.weight=" + std::to_string(weights[i]),
                               i == 2 ? "data.path=/data/a<b>" : "data.path=/data/fmnist"},
                              sweep_metrics(0.8 - 0.05 * i),
                              i == 1 ? json(nullptr) : sweep_analysis(0.2 + 0.3 * i, 10 + i));
    }
    dir_ = new std::string(root + "/compare");
    files_ = new ComparisonFiles(write_comparison(*dir_, compare_runs(runs)));
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete files_;
  }
  static std::string* dir_;
  static ComparisonFiles* files_;
};
std::string* ComparePageTest::dir_ = nullptr;
ComparisonFiles* ComparePageTest::files_ = nullptr;

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_F(ComparePageTest, WritesTheJsonThePageAndItsFigures) {
  EXPECT_EQ(files_->json, *dir_ + "/compare.json");
  EXPECT_EQ(files_->index, *dir_ + "/index.html");
  const json j = json::parse(testing::read_file(files_->json));
  EXPECT_EQ(j["differing_keys"], json({"data.path", "topography.weight"}));
  EXPECT_EQ(j["different_models_or_data"], true);
  ASSERT_EQ(j["runs"].size(), 3u);
  EXPECT_EQ(j["runs"][1]["analysed"], false);

  const std::string html = testing::read_file(files_->index);
  const auto sources = testing::image_sources(html);
  EXPECT_EQ(sources, (std::vector<std::string>{"accuracy_smoothness.svg", "accuracy_wiring.svg",
                                               "validation_accuracy.svg"}));
  for (const std::string& src : sources) {
    const std::string svg = testing::read_file(*dir_ + "/" + src);
    EXPECT_EQ(svg.rfind("<svg", 0), 0u) << src;
    EXPECT_NE(svg.find("</svg>"), std::string::npos) << src;
    EXPECT_EQ(svg.find("nan"), std::string::npos) << src;
  }
  // One point per analysed run, labelled; the unanalysed run is named under the figure.
  const std::string smooth = testing::read_file(*dir_ + "/accuracy_smoothness.svg");
  EXPECT_EQ(count_of(smooth, "<circle"), 2);
  EXPECT_NE(smooth.find("1: /data/fmnist, 0.0<"), std::string::npos);  // values of the keys
  EXPECT_NE(html.find("labelled # : data.path, topography.weight"), std::string::npos);
  EXPECT_NE(smooth.find("lc1 (orientation)"), std::string::npos);  // which layer's smoothness
  EXPECT_NE(html.find("not drawn: 2 (not analysed)"), std::string::npos);
  // Every run's curve, three evaluations each.
  EXPECT_EQ(count_of(testing::read_file(*dir_ + "/validation_accuracy.svg"), "<path"), 3);

  EXPECT_NE(html.find("runs of different models or data"), std::string::npos);
  const std::string unanalysed = fs::path(*dir_).parent_path().string() + "/run-1";
  EXPECT_NE(html.find("nosharing analyze --run " + unanalysed), std::string::npos);
  EXPECT_NE(html.find("run-1 was not analysed"), std::string::npos);
  EXPECT_NE(html.find("/data/a&lt;b&gt;"), std::string::npos);  // escaped
  EXPECT_EQ(html.find("/data/a<b>"), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos);  // self-contained: nothing fetched
  // Layers table: lc1 and lc2 of the two analysed runs.
  EXPECT_EQ(count_of(html, "<td class=\"text\">lc1</td>"), 2);
  EXPECT_EQ(count_of(html, "<td class=\"text\">lc2</td>"), 2);
  for (const auto& entry : fs::directory_iterator(*dir_)) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

// The page opens in headless Chromium with every figure loaded and no console message or
// error event; the screenshot is kept in the build folder (test_artifacts/).
TEST_F(ComparePageTest, OpensInHeadlessChromium) {
  const std::string chromium = testing::find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (scripts/setup.sh installs it)";
  const testing::PageLoad page =
      testing::load_page_in_chromium(chromium, files_->index, "compare_screenshot.png");
  testing::expect_page_loaded(page, 3);
}

}  // namespace compare_page_test
}  // namespace nosharing
