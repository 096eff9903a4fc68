#include "nosharing/report/html_report.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
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

std::vector<std::string> image_sources(const std::string& html) {
  std::vector<std::string> sources;
  const std::regex src("<img src=\"([^\"]+)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), src); it != std::sregex_iterator();
       ++it) {
    sources.push_back((*it)[1]);
  }
  return sources;
}

TEST_F(HtmlReportTest, EveryFigureExistsUnderARelativeLink) {
  EXPECT_EQ(*index_, *dir_ + "/index.html");
  const std::string html = testing::read_file(*index_);
  const auto sources = image_sources(html);
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

std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    const char* path_env = std::getenv("PATH");
    std::string paths = path_env ? path_env : "/usr/bin:/bin";
    size_t start = 0;
    while (start <= paths.size()) {
      const size_t end = std::min(paths.find(':', start), paths.size());
      const fs::path candidate = fs::path(paths.substr(start, end - start)) / name;
      if (fs::is_regular_file(candidate)) return candidate.string();
      start = end + 1;
    }
  }
  return "";
}

// The report opens in headless Chromium with every image loaded and no console message or
// error event; a screenshot is kept in the build folder (test_artifacts/).
TEST_F(HtmlReportTest, OpensInHeadlessChromium) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (scripts/setup.sh installs it)";
  const std::string work = testing::make_temp_dir("chromium");
  const std::string url = "file://" + fs::absolute(*index_).string();
  const std::string common = chromium +
                             " --headless --disable-gpu --no-sandbox --no-first-run "
                             "--user-data-dir=" +
                             work +
                             "/profile --enable-logging=stderr --v=0 "
                             "--virtual-time-budget=5000 ";
  const std::string dom_file = work + "/dom.html", log_file = work + "/stderr.txt";
  const std::string command =
      "timeout 120 " + common + "--dump-dom '" + url + "' >" + dom_file + " 2>" + log_file;
  ASSERT_EQ(std::system(command.c_str()), 0) << command << "\n" << testing::read_file(log_file);
  const std::string dom = testing::read_file(dom_file);
  const std::string log = testing::read_file(log_file);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m,
                                std::regex("data-loaded=\"(\\d+)\" data-total=\"(\\d+)\" "
                                           "data-errors=\"(\\d+)\"")))
      << "the status script did not run:\n"
      << dom.substr(dom.size() > 2000 ? dom.size() - 2000 : 0);
  const size_t expected = image_sources(testing::read_file(*index_)).size();
  EXPECT_EQ(std::stoul(m[2]), expected);
  EXPECT_EQ(m[1], m[2]) << "images failed to load";
  EXPECT_EQ(m[3], "0") << "error events in the page";
  // Every console message (console.log/error, uncaught exceptions) is logged as CONSOLE.
  EXPECT_EQ(log.find("CONSOLE"), std::string::npos) << log;

  const std::string artifacts =
      fs::path(NOSHARING_CLI_PATH).parent_path().string() + "/test_artifacts";
  fs::create_directories(artifacts);
  const std::string shot = artifacts + "/report_screenshot.png";
  fs::remove(shot);
  const std::string screenshot = "timeout 120 " + common +
                                 "--window-size=1200,1600 --screenshot=" + shot + " '" + url +
                                 "' >/dev/null 2>" + log_file;
  ASSERT_EQ(std::system(screenshot.c_str()), 0) << testing::read_file(log_file);
  ASSERT_TRUE(fs::is_regular_file(shot));
  EXPECT_GT(fs::file_size(shot), 10000u);  // a page with figures, not a blank one
}

}  // namespace html_report_test
}  // namespace nosharing
