// nosharing compare on two tiny trained runs, one analysed and one not.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace nosharing {
namespace compare_command_test {  // named, not anonymous: the tests compile in unity batches

using testing::make_temp_dir;
using testing::run_cli;

std::vector<std::string> tiny_run(const std::string& data, const std::string& out,
                                  const std::string& lr) {
  return {"train",     "--data",
          data,        "--out",
          out,         "--quiet",
          "--threads", "1",
          "--set",     "model.channels=[4, 4]",
          "--set",     "model.kernels=3",
          "--set",     "train.batch_size=32",
          "--set",     "train.max_steps=4",
          "--set",     "train.warmup_steps=1",
          "--set",     "data.threads=1",
          "--set",     "analysis.rf_units=16",
          "--set",     "analysis.max_images=64",
          "--set",     "train.lr=" + lr};
}

std::string last_line_of(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  const size_t at = text.rfind('\n');
  return at == std::string::npos ? text : text.substr(at + 1);
}

class CompareCommandTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string root = make_temp_dir("compare-cli");
    const std::string data = root + "/data";
    testing::write_idx_dataset(data, 320, 64, 12, 12, 4, 5);
    analysed_ = new std::string(root + "/analysed");
    bare_ = new std::string(root + "/bare");
    train_a_ = run_cli(tiny_run(data, *analysed_, "0.05"));
    std::vector<std::string> bare_args = tiny_run(data, *bare_, "0.1");
    bare_args.push_back("--no-analyze");
    train_b_ = run_cli(bare_args);
  }
  static void TearDownTestSuite() {
    delete analysed_;
    delete bare_;
  }
  void SetUp() override {
    ASSERT_EQ(train_a_.exit_code, 0) << train_a_.err;
    ASSERT_EQ(train_b_.exit_code, 0) << train_b_.err;
  }
  static std::string* analysed_;
  static std::string* bare_;
  static testing::CliResult train_a_, train_b_;
};
std::string* CompareCommandTest::analysed_ = nullptr;
std::string* CompareCommandTest::bare_ = nullptr;
testing::CliResult CompareCommandTest::train_a_;
testing::CliResult CompareCommandTest::train_b_;

TEST_F(CompareCommandTest, WritesThePageAndPrintsItsPathLast) {
  namespace fs = std::filesystem;
  const std::string out = make_temp_dir("compare-cli-out") + "/cmp";
  const auto result = run_cli({"compare", *analysed_, *bare_, "--out", out});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(last_line_of(result.out), out + "/index.html");
  EXPECT_NE(result.out.find("nosharing analyze --run " + *bare_), std::string::npos) << result.out;
  ASSERT_TRUE(fs::is_regular_file(out + "/index.html"));
  const auto json = nlohmann::json::parse(testing::read_file(out + "/compare.json"));
  EXPECT_EQ(json["differing_keys"], nlohmann::json({"train.lr"}));
  EXPECT_EQ(json["different_models_or_data"], false);
  const auto& a = json["runs"][0];
  EXPECT_EQ(a["label"], "train.lr=0.05");
  EXPECT_EQ(a["analysed"], true);
  EXPECT_EQ(a["layers"].size(), 2u);
  EXPECT_TRUE(a["layers"][0]["smoothness"].is_number());
  EXPECT_TRUE(a["accuracy"].is_number());
  EXPECT_EQ(a["accuracy_step"], 4);
  EXPECT_TRUE(a["images_per_second"].is_number());
  EXPECT_EQ(json["runs"][1]["analysed"], false);

  const auto printed = run_cli({"compare", *analysed_, *bare_, "--out", out, "--json"});
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_EQ(nlohmann::json::parse(printed.out), json);  // stdout is the JSON alone
}

TEST_F(CompareCommandTest, ErrorsExitWithOneLineNamingTheProblem) {
  const std::string out = make_temp_dir("compare-cli-errors") + "/cmp";
  const auto one = run_cli({"compare", *analysed_, "--out", out});
  EXPECT_EQ(one.exit_code, 2);
  EXPECT_NE(one.err.find("at least two run directories"), std::string::npos) << one.err;
  EXPECT_EQ(run_cli({"compare"}).exit_code, 2);

  const auto missing = run_cli({"compare", *analysed_, *analysed_ + "-nope", "--out", out});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find(*analysed_ + "-nope"), std::string::npos) << missing.err;
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
}

}  // namespace compare_command_test
}  // namespace nosharing
