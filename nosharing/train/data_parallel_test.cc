#include "nosharing/train/local_launch.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "nosharing/core/error.h"
#include "nosharing/models/model.h"
#include "nosharing/train/communicator_test_util.h"
#include "nosharing/train/metrics_log.h"
#include "nosharing/train/run_reader.h"
#include "tests/test_util.h"

extern char** environ;

namespace nosharing {
namespace data_parallel_test {  // named, not anonymous: the tests compile in unity batches

using Clock = std::chrono::steady_clock;
using testing::make_temp_dir;
using testing::read_file;
using testing::seconds_since;

// ---------------------------------------------------------------------------------------
// Processes of the nosharing binary

struct Process {
  pid_t pid = -1;
  std::string err_path;
};

// Starts build/nosharing with `args`, the environment plus `env` ("NAME=value"; an empty
// value removes the variable), stdout to /dev/null and stderr to a file.
Process spawn_cli(const std::vector<std::string>& args, const std::vector<std::string>& env,
                  const std::string& err_path) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    bool overridden = false;
    for (const auto& o : env)
      overridden = overridden || entry.rfind(o.substr(0, o.find('=') + 1), 0) == 0;
    if (!overridden) env_strings.push_back(entry);
  }
  for (const auto& o : env) {
    if (o.back() != '=') env_strings.push_back(o);
  }
  std::vector<std::string> argv_strings = {NOSHARING_CLI_PATH};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv, envp;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  Process p;
  p.err_path = err_path;
  EXPECT_EQ(posix_spawn(&p.pid, argv[0], &actions, nullptr, argv.data(), envp.data()), 0);
  posix_spawn_file_actions_destroy(&actions);
  return p;
}

// Waits at most `limit` seconds (then kills it: a test never hangs); returns the exit code,
// 128 + signal if killed, or -1 if it had to be killed.
int wait_exit(const Process& p, double limit) {
  const auto start = Clock::now();
  int status = 0;
  while (::waitpid(p.pid, &status, WNOHANG) == 0) {
    if (seconds_since(start) > limit) {
      ::kill(p.pid, SIGKILL);
      ::waitpid(p.pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int count_lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

bool wait_for_train_line(const std::string& run_dir, double limit) {
  const auto start = Clock::now();
  while (read_file(run_dir + "/metrics.jsonl").find("\"train\"") == std::string::npos) {
    if (seconds_since(start) > limit) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

std::vector<std::string> rank_env(int rank, int world, int port) {
  return {"RANK=" + std::to_string(rank), "WORLD_SIZE=" + std::to_string(world),
          "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + std::to_string(port)};
}

class DistributedCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new std::string(make_temp_dir("dist-data"));
    testing::write_idx_dataset(*data_, 320, 64, 12, 12, 4, 11);
  }
  static void TearDownTestSuite() { delete data_; }

  // A tiny lcnet without BatchNorm, dropout or batch-coupled losses (kernel_smoothness reads
  // weights only), with crops and flips: 288 training images / 32 = 9 steps per epoch.
  static std::vector<std::string> train_args(const std::string& out,
                                             std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"train",
                                     "--data",
                                     *data_,
                                     "--out",
                                     out,
                                     "--quiet",
                                     "--no-analyze",
                                     "--set",
                                     "model.preset=fmnist-lc-topo",
                                     "--set",
                                     "model.channels=[4, 8]",
                                     "--set",
                                     "model.kernels=3",
                                     "--set",
                                     "model.norm=none",
                                     "--set",
                                     "model.dropout=0.0",
                                     "--set",
                                     "topography.loss=kernel_smoothness",
                                     "--set",
                                     "augment.crop=true",
                                     "--set",
                                     "augment.flip=true",
                                     "--set",
                                     "augment.crop_padding=2",
                                     "--set",
                                     "train.batch_size=32",
                                     "--set",
                                     "train.epochs=2",
                                     "--set",
                                     "train.warmup_steps=2",
                                     "--set",
                                     "train.log_every=3",
                                     "--set",
                                     "train.eval_every=4",
                                     "--set",
                                     "data.threads=1",
                                     "--set",
                                     "distributed.bucket_mb=0.01"};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }
  // Runs to completion and returns the exit code.
  static int run(const std::vector<std::string>& args, const std::vector<std::string>& env,
                 const std::string& err_path, double limit = 120) {
    return wait_exit(spawn_cli(args, env, err_path), limit);
  }
  // The 2-rank run of train_args, made once for the tests that compare with it.
  static const std::string& two_rank_run() {
    static const std::string dir = [] {
      const std::string out = make_temp_dir("dist-two") + "/run";
      const int code = run(train_args(out, {"--nproc", "2", "--threads", "2"}), {}, out + ".err");
      EXPECT_EQ(code, 0) << read_file(out + ".err");
      return out;
    }();
    return dir;
  }
  static std::string* data_;
};
std::string* DistributedCliTest::data_ = nullptr;

std::vector<nlohmann::json> lines_of(const std::string& run_dir, const std::string& kind) {
  std::vector<nlohmann::json> out;
  for (const auto& line : read_metrics(run_dir + "/metrics.jsonl")) {
    if (line["kind"] == kind) out.push_back(line);
  }
  return out;
}

std::vector<torch::Tensor> final_parameters(const std::string& run_dir) {
  Model model = load_trained_model(read_run(run_dir));
  std::vector<torch::Tensor> out;
  for (const auto& p : model->parameters()) out.push_back(p.detach().clone());
  return out;
}

// The acceptance test of data parallelism: 2 ranks with a global batch of 32 (16 each)
// take the same 18 SGD steps as one process with batch 32 — same validation loss to 1e-4
// (measured: ~1e-7, float rounding of the split sums), same weights to 1e-4.
TEST_F(DistributedCliTest, TwoRanksReachTheValidationLossOfOneProcess) {
  const std::string one = make_temp_dir("dist-one") + "/run";
  ASSERT_EQ(run(train_args(one, {"--threads", "1"}), {}, one + ".err"), 0)
      << read_file(one + ".err");
  const std::string& two = two_rank_run();

  const auto eval_one = lines_of(one, "eval");
  const auto eval_two = lines_of(two, "eval");
  ASSERT_EQ(eval_one.size(), eval_two.size());
  ASSERT_GE(eval_one.size(), 3u);
  for (size_t i = 0; i < eval_one.size(); ++i) {
    EXPECT_EQ(eval_one[i]["step"], eval_two[i]["step"]);
    EXPECT_EQ(eval_two[i]["n"].get<int64_t>(), 32);  // the whole validation split
    EXPECT_NEAR(eval_one[i]["loss"].get<double>(), eval_two[i]["loss"].get<double>(), 1e-4)
        << "step " << eval_one[i]["step"];
  }
  EXPECT_EQ(eval_two.back()["step"].get<int64_t>(), 18);
  const auto a = final_parameters(one);
  const auto b = final_parameters(two);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::allclose(a[i], b[i], 0, 1e-4)) << "parameter " << i;
  }

  // Train lines: the global loss and throughput, and the allreduce's share.
  const auto train_two = lines_of(two, "train");
  ASSERT_FALSE(train_two.empty());
  for (const auto& line : train_two) {
    EXPECT_TRUE(line.contains("allreduce_seconds")) << line.dump();
    EXPECT_GE(line["allreduce_share"].get<double>(), 0.0);
    EXPECT_LE(line["allreduce_share"].get<double>(), 1.0);
  }
  EXPECT_NEAR(train_two[0]["task_loss"].get<double>(),
              lines_of(one, "train")[0]["task_loss"].get<double>(), 1e-4);
  const auto provenance = nlohmann::json::parse(read_file(two + "/provenance.json"));
  EXPECT_EQ(provenance["distributed"]["world_size"], 2);
  EXPECT_EQ(provenance["threads"], 1);  // --threads 2 split over 2 ranks
}

// Interrupted after step 5 (on every rank: the test hook stands for a forwarded Ctrl-C)
// and resumed with 2 ranks, the run ends bit-identical to the uninterrupted one.
TEST_F(DistributedCliTest, ResumeAfterAnInterruptionEqualsTheUninterruptedRun) {
  const std::string out = make_temp_dir("dist-resume") + "/run";
  EXPECT_EQ(run(train_args(out, {"--nproc", "2", "--threads", "2"}),
                {"NOSHARING_TEST_INTERRUPT_AFTER_STEP=5"}, out + ".err"),
            130)
      << read_file(out + ".err");
  EXPECT_NE(read_file(out + ".err").find("--resume " + out), std::string::npos);
  ASSERT_EQ(
      run({"train", "--resume", out, "--nproc", "2", "--quiet", "--no-analyze"}, {}, out + ".err2"),
      0)
      << read_file(out + ".err2");
  const auto a = final_parameters(two_rank_run());
  const auto b = final_parameters(out);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
}

// Started by hand (torchrun's variables): rank 1 killed mid-training makes rank 0 stop with
// one error line, exit 1, long before distributed.timeout_seconds.
TEST_F(DistributedCliTest, AKilledRankStopsTheOtherWithOneClearError) {
  const std::string out = make_temp_dir("dist-kill") + "/run";
  const int port = pick_free_port();
  const auto args =
      train_args(out, {"--threads", "1", "--set", "train.epochs=100000", "--set",
                       "train.log_every=1", "--set", "distributed.timeout_seconds=60"});
  const Process rank0 = spawn_cli(args, rank_env(0, 2, port), out + ".err0");
  const Process rank1 = spawn_cli(args, rank_env(1, 2, port), out + ".err1");
  ASSERT_TRUE(wait_for_train_line(out, 60)) << read_file(out + ".err0");
  ::kill(rank1.pid, SIGKILL);
  const auto start = Clock::now();
  EXPECT_EQ(wait_exit(rank0, 60), 1);
  EXPECT_LT(seconds_since(start), 30.0);
  EXPECT_EQ(wait_exit(rank1, 5), 128 + SIGKILL);
  const std::string err = read_file(out + ".err0");
  EXPECT_EQ(count_lines(err), 1) << err;
  EXPECT_NE(err.find("nosharing: rank 0 of 2: "), std::string::npos) << err;
  EXPECT_NE(err.find("failed"), std::string::npos) << err;
}

// --nproc: a worker that dies takes the others down, and the launcher says which.
TEST_F(DistributedCliTest, NprocStopsTheOtherWorkersWhenOneDies) {
  const std::string out = make_temp_dir("dist-nproc-kill") + "/run";
  const Process launcher =
      spawn_cli(train_args(out, {"--nproc", "2", "--threads", "2", "--set", "train.epochs=100000",
                                 "--set", "train.log_every=1"}),
                {}, out + ".err");
  ASSERT_TRUE(wait_for_train_line(out, 60)) << read_file(out + ".err");
  std::istringstream children(read_file("/proc/" + std::to_string(launcher.pid) + "/task/" +
                                        std::to_string(launcher.pid) + "/children"));
  std::vector<pid_t> workers;
  for (pid_t pid; children >> pid;) workers.push_back(pid);
  ASSERT_EQ(workers.size(), 2u);
  ::kill(workers[1], SIGKILL);  // rank 1 (started second)
  const auto start = Clock::now();
  EXPECT_EQ(wait_exit(launcher, 60), 1);
  EXPECT_LT(seconds_since(start), 30.0);
  for (pid_t pid : workers) EXPECT_NE(::kill(pid, 0), 0) << "worker " << pid << " still runs";
  const std::string err = read_file(out + ".err");
  EXPECT_NE(
      err.find("worker rank 1 (pid " + std::to_string(workers[1]) + ") was killed by signal 9"),
      std::string::npos)
      << err;
}

// Ctrl-C to the --nproc launcher: forwarded to every worker, they stop after the same step,
// rank 0 writes the checkpoint and names the --resume command, everything exits 130.
TEST_F(DistributedCliTest, CtrlCToTheLauncherCheckpointsEveryRank) {
  const std::string out = make_temp_dir("dist-sigint") + "/run";
  const Process launcher =
      spawn_cli(train_args(out, {"--nproc", "2", "--threads", "2", "--set", "train.epochs=100000",
                                 "--set", "train.log_every=1"}),
                {}, out + ".err");
  ASSERT_TRUE(wait_for_train_line(out, 60)) << read_file(out + ".err");
  ::kill(launcher.pid, SIGINT);
  EXPECT_EQ(wait_exit(launcher, 60), 130) << read_file(out + ".err");
  const std::string err = read_file(out + ".err");
  EXPECT_EQ(count_lines(err), 1) << err;
  EXPECT_NE(err.find("checkpoint saved; continue with: nosharing train --resume " + out),
            std::string::npos)
      << err;
  TrainerState state;
  load_trained_model(read_run(out), &state);
  EXPECT_GE(state.step, 1);
  ASSERT_TRUE(state.rank_rng_states.defined());
  EXPECT_EQ(state.rank_rng_states.size(0), 2);
}

TEST_F(DistributedCliTest, AMissingRankOrAnUnreachableRendezvousIsAnErrorNotAHang) {
  const std::string out = make_temp_dir("dist-alone") + "/run";
  const auto args = train_args(out, {"--threads", "1", "--set", "distributed.timeout_seconds=1"});
  // Rank 0 alone: rank 1 never joins.
  EXPECT_EQ(run(args, rank_env(0, 2, pick_free_port()), out + ".err0", 60), 1);
  std::string err = read_file(out + ".err0");
  EXPECT_EQ(count_lines(err), 1) << err;
  EXPECT_NE(err.find("rank 1 never joined the rendezvous"), std::string::npos) << err;
  // Rank 1 alone: nobody serves the rendezvous.
  EXPECT_EQ(run(args, rank_env(1, 2, pick_free_port()), out + ".err1", 60), 1);
  err = read_file(out + ".err1");
  EXPECT_EQ(count_lines(err), 1) << err;
  EXPECT_NE(err.find("cannot reach the rendezvous at MASTER_ADDR:MASTER_PORT = 127.0.0.1:"),
            std::string::npos)
      << err;
  // A host name that does not resolve: a configuration error.
  EXPECT_EQ(
      run(args, {"RANK=1", "WORLD_SIZE=2", "MASTER_ADDR=no-such-host.invalid", "MASTER_PORT=29500"},
          out + ".err2", 60),
      2);
  err = read_file(out + ".err2");
  EXPECT_EQ(count_lines(err), 1) << err;
  EXPECT_NE(err.find("MASTER_ADDR = \"no-such-host.invalid\": cannot resolve"), std::string::npos)
      << err;
}

TEST_F(DistributedCliTest, BadLaunchesAreUsageErrors) {
  const std::string out = make_temp_dir("dist-bad") + "/run";
  const auto args = train_args(out, {"--threads", "1"});
  struct Case {
    std::vector<std::string> extra_args;
    std::vector<std::string> env;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{}, {"RANK=abc", "WORLD_SIZE=2"}, "RANK = \"abc\""},
      {{},
       {"RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=", "MASTER_PORT=1234"},
       "MASTER_ADDR is not set"},
      {{},
       {"RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=99999"},
       "MASTER_PORT = \"99999\""},
      {{"--nproc", "3"}, {}, "train.batch_size = 32 is not divisible by --nproc 3"},
      {{"--nproc", "2"}, rank_env(0, 2, 1234), "--nproc 2: this process is already rank 0"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> a = args;
    a.insert(a.end(), c.extra_args.begin(), c.extra_args.end());
    EXPECT_EQ(run(a, c.env, out + ".err", 60), 2) << c.expected;
    const std::string err = read_file(out + ".err");
    EXPECT_EQ(count_lines(err), 1) << err;
    EXPECT_NE(err.find(c.expected), std::string::npos) << err;
  }
}

}  // namespace data_parallel_test
}  // namespace nosharing
