// nosharing activations and nosharing rsa, end to end on a tiny trained run.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "nosharing/analysis/rsa.h"
#include "nosharing/data/npy.h"
#include "nosharing/data/npz.h"
#include "nosharing/data/test_files.h"
#include "tests/test_util.h"

namespace nosharing {
namespace activations_command_test {  // named, not anonymous: the tests compile in unity batches

using testing::make_temp_dir;
using testing::run_cli;
using testing_files::write_png;

class ActivationsCommandTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string data = make_temp_dir("activations-data");
    testing::write_idx_dataset(data, 320, 64, 12, 12, 4, 9);
    run_ = new std::string(make_temp_dir("activations-run") + "/run");
    ASSERT_EQ(run_cli(testing::tiny_train(data, *run_)).exit_code, 0);
    // Stimuli of other sizes than the model's 12×12, colour and grey (the model is grey).
    images_ = new std::string(make_temp_dir("activations-images"));
    for (int i = 0; i < 6; ++i) {
      write_png(*images_ + "/stimulus" + std::to_string(i) + ".png", 20 + i, 16, 1, i);
    }
  }
  static void TearDownTestSuite() {
    delete run_;
    delete images_;
  }
  static std::string* run_;
  static std::string* images_;
};
std::string* ActivationsCommandTest::run_ = nullptr;
std::string* ActivationsCommandTest::images_ = nullptr;

TEST_F(ActivationsCommandTest, WritesEachLayersResponsesInFileOrderAndRsaComparesThem) {
  const std::string out = make_temp_dir("activations-out") + "/a.npz";
  const auto result = run_cli({"activations", "--run", *run_, "--images", *images_, "--layers",
                               "lc2,lc1", "--out", out});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.substr(result.out.rfind('\n', result.out.size() - 2) + 1), out + "\n");
  const NamedArrays arrays = read_npz(out);
  ASSERT_EQ(arrays.size(), 2u);
  EXPECT_EQ(arrays[0].first, "lc2");  // in the order asked
  EXPECT_EQ(arrays[1].first, "lc1");
  EXPECT_EQ(arrays[1].second.size(0), 6);
  EXPECT_EQ(arrays[1].second.size(1), 4);  // lc1's channels
  EXPECT_GE(arrays[1].second.min().item<double>(), 0.0);  // after the ReLU
  const auto record = nlohmann::json::parse(testing::read_file(
      std::filesystem::path(out).replace_extension(".json").string()));
  EXPECT_EQ(record["stimuli"][0], "stimulus0.png");
  EXPECT_EQ(record["stimuli"].size(), 6u);
  EXPECT_EQ(record["layers"]["lc1"].size(), 3u);

  // A model against itself: every layer's RDM equals its own, ρ = 1 on the diagonal.
  const auto self = run_cli({"rsa", out, out, "--json", "--permutations", "99"});
  ASSERT_EQ(self.exit_code, 0) << self.err;
  const auto json = nlohmann::json::parse(self.out);
  ASSERT_EQ(json["comparisons"].size(), 4u);
  EXPECT_EQ(json["stimuli"], 6);
  for (const auto& c : json["comparisons"]) {
    if (c["a"] == c["b"]) EXPECT_NEAR(c["spearman"].get<double>(), 1.0, 1e-12);
  }
  // Against a given RDM: lc1's own, written as .npy, gives ρ = 1.
  const std::string rdm = make_temp_dir("rsa-rdm") + "/brain.npy";
  write_npy(rdm, dissimilarity_matrix(arrays[1].second));
  const auto given = run_cli({"rsa", out, rdm, "--json", "--permutations", "0"});
  ASSERT_EQ(given.exit_code, 0) << given.err;
  const auto given_json = nlohmann::json::parse(given.out);
  EXPECT_EQ(given_json["comparisons"][1]["a"], "lc1");
  EXPECT_EQ(given_json["comparisons"][1]["b"], "rdm");
  EXPECT_NEAR(given_json["comparisons"][1]["spearman"].get<double>(), 1.0, 1e-12);
  EXPECT_EQ(given_json["comparisons"][1]["p_value"].get<double>(), 1.0);  // no permutations
}

TEST_F(ActivationsCommandTest, BadInputsAreOneLineWithTheirExitCodes) {
  const std::string dir = make_temp_dir("activations-bad");
  const std::string out = dir + "/a.npz";
  ASSERT_EQ(run_cli({"activations", "--run", *run_, "--images", *images_, "--out", out,
                     "--quiet"}).exit_code, 0);
  const std::string colour = make_temp_dir("activations-colour");
  write_png(colour + "/c.png", 12, 12, 3, 1);
  const std::string wrong_rdm = dir + "/wrong.npy";
  write_npy(wrong_rdm, torch::zeros({5, 5}));
  const std::string empty = make_temp_dir("activations-empty");
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{"activations", "--run", *run_, "--images", *images_, "--layers", "lc9"}, 1,
       "--layers: no layer 'lc9' in this model (its layers: lc1, lc2)"},
      {{"activations", "--run", *run_, "--images", *images_, "--layers", "lc1,,lc2"}, 2,
       "--layers lc1,,lc2"},
      {{"activations", "--run", *run_, "--images", colour}, 1,
       "the images have 3 channels, the model was trained on 1 (greyscale)"},
      {{"activations", "--run", *run_, "--images", empty}, 1, "no .png, .jpg or .jpeg images"},
      {{"activations", "--run", *run_, "--images", dir + "/nope"}, 1, "not a folder of images"},
      {{"activations", "--run", *run_, "--images", *images_, "--out", dir + "/a.txt"}, 2,
       "expected a file name ending in .npz"},
      {{"activations", "--run", dir + "/no-run", "--images", *images_}, 1, dir + "/no-run"},
      {{"rsa", out, wrong_rdm}, 1, "an RDM of [5, 5]; expected [6, 6]"},
      {{"rsa", out, dir + "/missing.npz"}, 1, dir + "/missing.npz"},
      {{"rsa", out, out, "--permutations", "-1"}, 2, "--permutations -1"},
      {{"rsa", wrong_rdm, out}, 1, "not an .npz (zip) file"},
  };
  for (const Case& c : cases) {
    const auto result = run_cli(c.args);
    EXPECT_EQ(result.exit_code, c.exit_code) << c.args.back() << ": " << result.err;
    EXPECT_NE(result.err.find(c.expected), std::string::npos) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
}

}  // namespace activations_command_test
}  // namespace nosharing
