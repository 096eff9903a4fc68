#include "nosharing/report/html_report.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <regex>
#include <set>

#include "nosharing/data/loader.h"
#include "tests/test_util.h"

namespace nosharing {
namespace html_report_test {  // named, not anonymous: the tests compile in unity batches

namespace fs = std::filesystem;

// One small analysed model and its report, shared by the tests below.
class HtmlReportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    torch::manual_seed(3);
    Dataset data;
    data.labels = torch::arange(40) % 2;
    data.images = (torch::rand({40, 1, 12, 12}) * 255).to(torch::kUInt8);
    data.class_names = {"a", "b & <c>"};
    LoaderOptions lo;
    lo.batch_size = 20;
    lo.shuffle = false;
    lo.drop_last = false;
    lo.threads = 0;
    BatchLoader loader(data, torch::arange(40), {{0.5f}, {0.3f}}, lo);
    LcNet net(LcNetOptions({1, 12, 12}, 2, {4, 4}).kernels({3}).strides({1, 2}));
    net->eval();
    AnalysisOptions options;
    options.gratings.orientations = 8;
    options.gratings.periods = {3.0, 5.0, 8.0};
    options.rf_units = 12;
    analysis_ = new ModelAnalysis(analyze_lcnet(*net, &loader, data.class_names, options));
    dir_ = new std::string(testing::make_temp_dir("report") + "/report");
    ReportInputs inputs;
    inputs.title = "tiny <run>";
    inputs.analysis = analysis_;
    inputs.analysis_json = analysis_to_json(*analysis_);
    for (int step = 1; step <= 5; ++step) {
      inputs.metrics.push_back({{"kind", "train"}, {"step", step}, {"loss", 2.0 / step}});
    }
    inputs.metrics.push_back(
        {{"kind", "eval"}, {"step", 5}, {"split", "val"}, {"loss", 0.5}, {"accuracy", 0.75}});
    inputs.config_summary = {{"model.preset", "fmnist-lc"}};
    index_ = new std::string(write_html_report(*dir_, inputs));
  }
  static void TearDownTestSuite() {
    delete analysis_;
    delete dir_;
    delete index_;
  }
  static ModelAnalysis* analysis_;
  static std::string* dir_;
  static std::string* index_;
};
ModelAnalysis* HtmlReportTest::analysis_ = nullptr;
std::string* HtmlReportTest::dir_ = nullptr;
std::string* HtmlReportTest::index_ = nullptr;

TEST_F(HtmlReportTest, EveryFigureExistsUnderARelativeLink) {
  EXPECT_EQ(*index_, *dir_ + "/index.html");
  const std::string html = testing::read_file(*index_);
  const auto sources = testing::image_sources(html);
  // Per layer (column sheets: no spectrum, no headline map): orientation map + legend, the
  // orientation curve with chance, the normalised curves, RF plot, 2 d′ maps; plus 2
  // training curves.
  EXPECT_EQ(sources.size(), 2u * (2 + 2 + 1 + 2) + 2u);
  std::set<std::string> files;
  for (const std::string& src : sources) {
    EXPECT_EQ(src.find('/'), std::string::npos) << src;  // relative, beside index.html
    EXPECT_TRUE(fs::is_regular_file(*dir_ + "/" + src)) << src;
    files.insert(src);
  }
  for (const std::string& file : files) {
    const std::string bytes = testing::read_file(*dir_ + "/" + file);
    if (file.size() > 4 && file.substr(file.size() - 4) == ".png") {
      EXPECT_EQ(bytes.substr(1, 3), "PNG") << file;
    } else {
      EXPECT_EQ(bytes.rfind("<svg", 0), 0u) << file;
      EXPECT_NE(bytes.find("</svg>"), std::string::npos) << file;
    }
  }
  // Titles and class names are escaped.
  EXPECT_NE(html.find("tiny &lt;run&gt;"), std::string::npos);
  EXPECT_NE(html.find("b &amp; &lt;c&gt;"), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos);  // self-contained: nothing fetched
}

// The report opens in headless Chromium with every image loaded and no console message or
// error event; a screenshot is kept in the build folder (test_artifacts/).
TEST_F(HtmlReportTest, OpensInHeadlessChromium) {
  const std::string chromium = testing::find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (scripts/setup.sh installs it)";
  const testing::PageLoad page =
      testing::load_page_in_chromium(chromium, *index_, "report_screenshot.png");
  testing::expect_page_loaded(
      page, static_cast<int>(testing::image_sources(testing::read_file(*index_)).size()));
}

// The loss curve compares like with like: the train task loss (cross-entropy, as the
// validation loss) where a line has one, not the total with its topographic terms.
TEST(TrainingCurveTest, TrainSeriesIsTheTaskLossWhereLogged) {
  const std::vector<nlohmann::json> with_terms = {
      {{"kind", "train"}, {"step", 10}, {"loss", 50.0}, {"task_loss", 2.0}},
      {{"kind", "train"}, {"step", 20}, {"loss", 40.0}, {"task_loss", 1.5}},
      {{"kind", "eval"}, {"step", 20}, {"split", "val"}, {"loss", 1.6}, {"accuracy", 0.5}},
      {{"kind", "eval"}, {"step", 20}, {"split", "test"}, {"loss", 9.0}, {"accuracy", 0.1}}};
  const std::vector<PlotSeries> losses = training_curve_series(with_terms, false);
  ASSERT_EQ(losses.size(), 2u);
  EXPECT_EQ(losses[0].label, "train task loss");
  EXPECT_EQ(losses[0].y, (std::vector<double>{2.0, 1.5}));
  EXPECT_EQ(losses[1].y, (std::vector<double>{1.6}));  // validation only, not test
  const std::vector<PlotSeries> accuracy = training_curve_series(with_terms, true);
  ASSERT_EQ(accuracy.size(), 1u);
  EXPECT_EQ(accuracy[0].y, (std::vector<double>{0.5}));
  // Older metrics without task_loss: the total.
  const std::vector<PlotSeries> plain =
      training_curve_series({{{"kind", "train"}, {"step", 1}, {"loss", 3.0}}}, false);
  EXPECT_EQ(plain[0].label, "train loss");
  EXPECT_EQ(plain[0].y, (std::vector<double>{3.0}));
}

}  // namespace html_report_test
}  // namespace nosharing
