// Conformance of the command line to DESIGN §8: flags, --set typing and precedence, the
// run directory, every metrics line kind and key, eval --json, info, exit codes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "tests/test_util.h"

extern char** environ;

namespace nosharing {
namespace cli_test {  // named, not anonymous: the tests compile in unity batches

using testing::make_temp_dir;
using testing::run_cli;
using testing::run_cli_with_file_size_limit;
using testing::write_idx_dataset;

// A tiny model that trains in a second or two on 12×12 images.
std::vector<std::string> tiny_args(const std::string& data, const std::string& out) {
  return {"train",
          "--data", data,
          "--out", out,
          "--quiet",
          "--threads", "1",
          "--set", "model.preset=fmnist-lc-topo",  // column sheets: any channel count
          "--set", "model.channels=[4, 8]",
          "--set", "model.kernels=3",
          "--set", "train.batch_size=32",
          "--set", "train.epochs=2",
          "--set", "train.log_every=2",
          "--set", "train.eval_every=3",
          "--set", "train.warmup_steps=2",
          "--set", "data.threads=1"};
}

std::vector<std::string> with(std::vector<std::string> args, std::vector<std::string> more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

std::string last_line(const std::string& text) {
  std::string trimmed = text;
  while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
  return trimmed.substr(trimmed.rfind('\n') == std::string::npos ? 0 : trimmed.rfind('\n') + 1);
}

int count_lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new std::string(make_temp_dir("cli-data"));
    write_idx_dataset(*data_, 320, 64, 12, 12, 4, 7);
  }
  static void TearDownTestSuite() { delete data_; }
  static std::string* data_;
};
std::string* CliTest::data_ = nullptr;

TEST_F(CliTest, TrainWritesTheRunDirectoryOfTheContract) {
  const std::string out = make_temp_dir("cli-run") + "/run";
  const auto result = run_cli(tiny_args(*data_, out));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(last_line(result.out), out);  // --quiet: only the run directory

  namespace fs = std::filesystem;
  for (const char* file : {"config.toml", "provenance.json", "metrics.jsonl", "checkpoint/state.pt"}) {
    EXPECT_TRUE(fs::is_regular_file(out + "/" + file)) << file;
  }
  for (const auto& entry : fs::recursive_directory_iterator(out)) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  }
  const std::string config = testing::read_file(out + "/config.toml");
  EXPECT_NE(config.find("schema_version = 1"), std::string::npos);
  EXPECT_NE(config.find("path = \"" + *data_ + "\""), std::string::npos) << config;

  const auto provenance = nlohmann::json::parse(testing::read_file(out + "/provenance.json"));
  for (const char* key : {"git_commit", "libtorch_version", "blas", "blas_kernel", "threads", "host"}) {
    EXPECT_TRUE(provenance.contains(key)) << key;
  }
  EXPECT_EQ(provenance["threads"], 1);
  // OpenMP threads spin briefly, then sleep (core/threads.h), unless the caller chose a
  // policy or a spin count.
  const char* caller_policy = std::getenv("OMP_WAIT_POLICY");
  const char* caller_spin = std::getenv("GOMP_SPINCOUNT");
  if (caller_policy != nullptr) {
    EXPECT_EQ(provenance["omp_wait_policy"], caller_policy);
  } else {
    EXPECT_TRUE(provenance["omp_wait_policy"].is_null());
    EXPECT_EQ(provenance["gomp_spincount"], caller_spin ? caller_spin : "1000");
  }
  const char* caller_timeout = std::getenv("OPENBLAS_THREAD_TIMEOUT");
  EXPECT_EQ(provenance["openblas_thread_timeout"], caller_timeout ? caller_timeout : "4");
  // OpenBLAS's Prescott fallback is replaced where the CPU allows better (core/threads.h);
  // a kernel the caller forced stays.
  const char* caller_core = std::getenv("OPENBLAS_CORETYPE");
  const bool avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (caller_core == nullptr && avx2_fma) EXPECT_NE(provenance["blas_kernel"], "Prescott");
  // The commit is recorded at build time (cmake/build_info.cmake); built from a git checkout
  // (as here and in CI), it is a full hash.
  if (fs::is_directory(std::string(NOSHARING_SOURCE_DIR) + "/.git") ||
      fs::is_regular_file(std::string(NOSHARING_SOURCE_DIR) + "/.git")) {
    ASSERT_TRUE(provenance["git_commit"].is_string());
    const std::string commit = provenance["git_commit"];
    EXPECT_EQ(commit.size(), 40u) << commit;
    EXPECT_EQ(commit.find_first_not_of("0123456789abcdef"), std::string::npos) << commit;
    EXPECT_TRUE(provenance["git_dirty"].is_boolean());
  }

  // 288 training images (10 % of 320 held out) / 32 = 9 steps per epoch, 2 epochs.
  std::ifstream metrics(out + "/metrics.jsonl");
  std::string line;
  std::vector<nlohmann::json> train, eval;
  while (std::getline(metrics, line)) {
    const auto parsed = nlohmann::json::parse(line);
    (parsed["kind"] == "train" ? train : eval).push_back(parsed);
    EXPECT_TRUE(parsed["kind"] == "train" || parsed["kind"] == "eval") << line;
  }
  ASSERT_FALSE(train.empty());
  for (const auto& t : train) {
    for (const char* key : {"step", "epoch", "loss", "task_loss", "lr", "images_per_second", "seconds"}) {
      EXPECT_TRUE(t.contains(key)) << key << " in " << t.dump();
    }
    EXPECT_GE(t["step"].get<int64_t>(), 1);
  }
  EXPECT_EQ(train.back()["step"], 18);
  // Evaluations: every 3 steps except at epoch ends (9, 18), plus each epoch end.
  std::vector<int64_t> eval_steps;
  for (const auto& e : eval) {
    for (const char* key : {"step", "epoch", "split", "loss", "accuracy", "n", "seconds"}) {
      EXPECT_TRUE(e.contains(key)) << key << " in " << e.dump();
    }
    EXPECT_EQ(e["split"], "val");
    EXPECT_EQ(e["n"], 32);
    EXPECT_GE(e["accuracy"].get<double>(), 0.0);
    EXPECT_LE(e["accuracy"].get<double>(), 1.0);
    eval_steps.push_back(e["step"]);
  }
  EXPECT_EQ(eval_steps, (std::vector<int64_t>{3, 6, 9, 12, 15, 18}));

  // eval --json reproduces the final validation line.
  const auto evaluated = run_cli({"eval", "--run", out, "--json"});
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  const auto json = nlohmann::json::parse(evaluated.out);
  EXPECT_EQ(json["split"], "val");
  EXPECT_EQ(json["n"], 32);
  EXPECT_NEAR(json["accuracy"].get<double>(), eval.back()["accuracy"].get<double>(), 1e-12);
  EXPECT_NEAR(json["loss"].get<double>(), eval.back()["loss"].get<double>(), 1e-5);

  const auto tested = run_cli({"eval", "--run", out, "--split", "test", "--json"});
  ASSERT_EQ(tested.exit_code, 0) << tested.err;
  EXPECT_EQ(nlohmann::json::parse(tested.out)["n"], 64);

  const auto info = run_cli({"info", "--run", out, "--json"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const auto info_json = nlohmann::json::parse(info.out);
  EXPECT_GT(info_json["parameters"]["total"].get<int64_t>(), 0);
  EXPECT_EQ(info_json["last_eval"]["step"], 18);
  for (const char* layer : {"lc1", "lc2"}) {
    ASSERT_TRUE(info_json["weight_snr"].contains(layer)) << info.out;
    EXPECT_GE(info_json["weight_snr"][layer]["squared"].get<double>(), 0.0);
    EXPECT_GE(info_json["weight_snr"][layer]["abs"].get<double>(), 0.0);
  }
  const auto info_text = run_cli({"info", "--run", out});
  EXPECT_EQ(info_text.exit_code, 0);
  EXPECT_NE(info_text.out.find("lc1"), std::string::npos) << info_text.out;

  // An existing run directory is refused without --force …
  const auto again = run_cli(tiny_args(*data_, out));
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_EQ(count_lines(again.err), 1) << again.err;
  EXPECT_NE(again.err.find(out), std::string::npos) << again.err;
  // … and replaced with it.
  EXPECT_EQ(run_cli(with(tiny_args(*data_, out), {"--force", "--set", "train.epochs=1"})).exit_code, 0);
}

// --profile: a "profile" line after every "train" line, its phases per step adding up (with
// "other") to the interval's wall time per step; fmnist-lc-topo has topographic losses.
TEST_F(CliTest, ProfileLogsWhereTheStepTimeGoes) {
  const std::string out = make_temp_dir("cli-profile") + "/run";
  std::vector<std::string> args = tiny_args(*data_, out);
  args.push_back("--profile");
  const auto result = run_cli(args);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::ifstream metrics(out + "/metrics.jsonl");
  std::string line;
  int train_lines = 0, profile_lines = 0;
  while (std::getline(metrics, line)) {
    const auto parsed = nlohmann::json::parse(line);
    if (parsed["kind"] == "train") ++train_lines;
    if (parsed["kind"] != "profile") continue;
    ++profile_lines;
    EXPECT_EQ(parsed["steps"], 2) << line;
    const auto& per_step = parsed["seconds_per_step"];
    double sum = 0;
    for (const char* phase : {"data", "forward", "topography", "backward", "optimizer", "other"}) {
      ASSERT_TRUE(per_step.contains(phase)) << phase << " in " << line;
      EXPECT_GE(per_step[phase].get<double>(), 0.0) << line;
    }
    for (const auto& [phase, seconds] : per_step.items()) sum += seconds.get<double>();
    EXPECT_NEAR(sum, parsed["total_seconds_per_step"].get<double>(), 1e-6) << line;
  }
  EXPECT_EQ(profile_lines, train_lines);
  EXPECT_EQ(profile_lines, 9);  // 18 steps, log_every 2
}

TEST_F(CliTest, ConfigPrintsEveryKeyWithTypedSetsAndPrecedence) {
  const std::string dir = make_temp_dir("cli-config");
  testing::write_file(dir + "/c.toml", "[train]\nlr = 0.2\nepochs = 7\n");
  const auto result = run_cli({"config", "--config", dir + "/c.toml", "--set", "train.lr=0.3",
                               "--set", "model.sharing=conv", "--set", "model.channels=[3, 5]"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("lr = 0.3  # default 0.05"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("epochs = 7  #"), std::string::npos);
  EXPECT_NE(result.out.find("sharing = \"conv\""), std::string::npos);
  EXPECT_NE(result.out.find("channels = [3, 5]"), std::string::npos);
  for (const char* key : {"preset", "sharing", "max_steps", "batch_size", "seed", "threads",
                          "eval_every", "val_fraction", "limit", "crop", "flip", "layout",
                          "jitter", "loss", "weight", "anchors", "negatives"}) {
    EXPECT_NE(result.out.find(std::string("\n") + key + " = "), std::string::npos) << key;
  }
}

TEST_F(CliTest, UsageErrorsExitTwoWithOneLineNamingTheProblem) {
  const std::string out = make_temp_dir("cli-usage") + "/run";
  struct Case {
    std::vector<std::string> args;
    std::string mentions;
  };
  const std::vector<Case> cases = {
      {{"train", "--bogus"}, "--bogus"},
      {{"frobnicate"}, "frobnicate"},
      {with(tiny_args(*data_, out), {"--set", "train.nope=1"}), "train.nope"},
      {with(tiny_args(*data_, out), {"--set", "train.epochs=abc"}), "train.epochs"},
      {with(tiny_args(*data_, out), {"--set", "train.epochs=1.5"}), "train.epochs"},
      {with(tiny_args(*data_, out), {"--set", "model.sharing=half"}), "model.sharing"},
      {with(tiny_args(*data_, out), {"--set", "model.kernels=[30]"}), "model.kernels"},
      {with(tiny_args(*data_, out), {"--set", "model.strides=0"}), "model.strides"},
      {with(tiny_args(*data_, out), {"--config", out + "/missing.toml"}), "missing.toml"},
      {{"config", "--set", "model.preset=nope"}, "nope"},
      {with(tiny_args(*data_, out), {"--set", "topography.loss=smooth"}), "topography.loss"},
      {with(tiny_args(*data_, out), {"--set", "model.layout=hypercolumn", "--set",
                                     "model.channels=[4, 8]"}),
       "8 channels is not a square"},
      {with(tiny_args(*data_, out), {"--set", "topography.loss=wiring", "--set",
                                     "topography.layer_weights=[1.0]"}),
       "topography.layer_weights"},
  };
  for (const auto& c : cases) {
    const auto result = run_cli(c.args);
    EXPECT_EQ(result.exit_code, 2) << c.mentions << ": " << result.err;
    EXPECT_EQ(count_lines(result.err), 1) << result.err;
    EXPECT_NE(result.err.find(c.mentions), std::string::npos) << result.err;
  }
  EXPECT_FALSE(std::filesystem::exists(out)) << "a failed run must leave nothing behind";
}

TEST_F(CliTest, DataErrorsExitOneNamingTheFile) {
  const std::string root = make_temp_dir("cli-bad-data");
  const std::string out = root + "/run";
  // Truncated images file.
  const std::string truncated = root + "/truncated";
  write_idx_dataset(truncated, 64, 16, 12, 12, 4, 1);
  std::filesystem::resize_file(truncated + "/train-images-idx3-ubyte", 1000);
  // Wrong magic number.
  const std::string magic = root + "/magic";
  write_idx_dataset(magic, 64, 16, 12, 12, 4, 1);
  {
    std::fstream file(magic + "/train-labels-idx1-ubyte", std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(3);
    file.put(0x07);
  }
  for (const auto& [data, mentions] : std::vector<std::pair<std::string, std::string>>{
           {root + "/nowhere", "nowhere"},
           {truncated, "train-images-idx3-ubyte"},
           {magic, "train-labels-idx1-ubyte"}}) {
    const auto result = run_cli(tiny_args(data, out));
    EXPECT_EQ(result.exit_code, 1) << mentions << ": " << result.err;
    EXPECT_EQ(count_lines(result.err), 1) << result.err;
    EXPECT_NE(result.err.find(mentions), std::string::npos) << result.err;
    EXPECT_FALSE(std::filesystem::exists(out));
  }
}

TEST_F(CliTest, NonFiniteLossStopsWithExitOne) {
  const std::string out = make_temp_dir("cli-nan") + "/run";
  const auto result = run_cli(with(tiny_args(*data_, out),
                                   {"--set", "train.lr=1e30", "--set", "model.norm=none",
                                    "--set", "train.warmup_steps=0"}));
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find("non-finite loss"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("in task_loss"), std::string::npos) << result.err;
  EXPECT_EQ(count_lines(result.err), 1) << result.err;
}

TEST_F(CliTest, ResumeRejectsCorruptCheckpoints) {
  const std::string out = make_temp_dir("cli-corrupt") + "/run";
  ASSERT_EQ(run_cli(with(tiny_args(*data_, out), {"--set", "train.epochs=1"})).exit_code, 0);
  testing::write_file(out + "/checkpoint/state.pt", "not a checkpoint");
  const auto result = run_cli({"train", "--resume", out});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(count_lines(result.err), 1) << result.err;
  EXPECT_NE(result.err.find("state.pt"), std::string::npos) << result.err;
  const auto mixed = run_cli({"train", "--resume", out, "--set", "train.lr=1"});
  EXPECT_EQ(mixed.exit_code, 2) << mixed.err;
}

// A full disk (here: a file-size limit below the checkpoint's size) stops training with one
// line naming the checkpoint and exit 1: a new run leaves no directory behind, a resumed one
// keeps its last good checkpoint, from which it finishes once there is room.
TEST_F(CliTest, AFullDiskStopsWithOneLineAndDamagesNoRun) {
  const std::string root = make_temp_dir("cli-full-disk");
  const std::string out = root + "/run";
  ASSERT_EQ(run_cli(with(tiny_args(*data_, out), {"--set", "train.epochs=1"})).exit_code, 0);
  const std::string checkpoint = out + "/checkpoint/state.pt";
  const auto checkpoint_bytes = static_cast<int64_t>(std::filesystem::file_size(checkpoint));
  // Room for config, provenance and metrics lines, not for a checkpoint.
  const int64_t limit = checkpoint_bytes / 2;
  ASSERT_GT(limit, 16 * 1024) << "the tiny model's checkpoint is too small for this test";

  const std::string fresh = root + "/fresh";
  const auto full = run_cli_with_file_size_limit(tiny_args(*data_, fresh), limit);
  EXPECT_EQ(full.exit_code, 1) << full.err;
  EXPECT_EQ(count_lines(full.err), 1) << full.err;
  EXPECT_NE(full.err.find("state.pt"), std::string::npos) << full.err;
  EXPECT_FALSE(std::filesystem::exists(fresh));

  const std::string before = testing::read_file(checkpoint);
  const auto resumed_full = run_cli_with_file_size_limit(
      {"train", "--resume", out, "--quiet"}, limit);
  EXPECT_EQ(resumed_full.exit_code, 1) << resumed_full.err;
  EXPECT_EQ(count_lines(resumed_full.err), 1) << resumed_full.err;
  EXPECT_NE(resumed_full.err.find("state.pt"), std::string::npos) << resumed_full.err;
  EXPECT_EQ(testing::read_file(checkpoint), before);
  EXPECT_FALSE(std::filesystem::exists(checkpoint + ".tmp"));
  const auto with_room = run_cli({"train", "--resume", out, "--quiet"});
  EXPECT_EQ(with_room.exit_code, 0) << with_room.err;
}

// Ctrl-C writes a checkpoint, names the --resume command and exits 130.
TEST_F(CliTest, InterruptCheckpointsAndResumeFinishes) {
  const std::string out = make_temp_dir("cli-sigint") + "/run";
  std::vector<std::string> args = with(tiny_args(*data_, out),
                                       {"--set", "train.epochs=400", "--set", "train.log_every=1"});
  args.insert(args.begin(), NOSHARING_CLI_PATH);
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, (out + ".stderr").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  // Wait for the first train line, then interrupt.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (testing::read_file(out + "/metrics.jsonl").find("\"train\"") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << testing::read_file(out + ".stderr");
  EXPECT_NE(testing::read_file(out + ".stderr").find("--resume " + out), std::string::npos);
  ASSERT_TRUE(std::filesystem::is_regular_file(out + "/checkpoint/state.pt"));

  // The checkpoint records where the run stopped (resumption itself is checked bit for bit
  // in TrainerTest.ResumeEqualsAnUninterruptedRun).
  const auto info = nlohmann::json::parse(run_cli({"info", "--run", out, "--json"}).out);
  const int64_t interrupted_at = info["checkpoint"]["step"];
  EXPECT_GE(interrupted_at, 1);
  EXPECT_LT(interrupted_at, 400 * 9);
}

}  // namespace cli_test
}  // namespace nosharing
