#include "nosharing/train/distributed.h"

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
#include "nosharing/train/local_launch.h"
#include "nosharing/train/metrics_log.h"
#include "nosharing/train/run_reader.h"
#include "tests/test_util.h"

extern char** environ;

namespace nosharing {
namespace distributed_test {  // named, not anonymous: the tests compile in unity batches

using Clock = std::chrono::steady_clock;
using testing::make_temp_dir;
using testing::read_file;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---------------------------------------------------------------------------------------
// Environment variables

EnvLookup env_of(std::map<std::string, std::string> values) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(values));
  return [shared](const char* name) -> const char* {
    const auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

TEST(DistributedEnvTest, NoVariablesOrAWorldOfOneIsOneProcess) {
  EXPECT_FALSE(read_distributed_env(env_of({})).distributed());
  // MASTER_* are not needed (nor read) for a single process.
  const DistributedEnv one =
      read_distributed_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"MASTER_PORT", "junk"}}));
  EXPECT_FALSE(one.distributed());
  EXPECT_EQ(one.rank, 0);
}

TEST(DistributedEnvTest, ReadsTorchrunsVariables) {
  const DistributedEnv env = read_distributed_env(env_of({{"RANK", "2"},
                                                          {"WORLD_SIZE", "4"},
                                                          {"LOCAL_RANK", "0"},
                                                          {"MASTER_ADDR", "node17"},
                                                          {"MASTER_PORT", "29500"}}));
  EXPECT_TRUE(env.distributed());
  EXPECT_EQ(env.rank, 2);
  EXPECT_EQ(env.world_size, 4);
  EXPECT_EQ(env.local_rank, 0);
  EXPECT_EQ(env.master_addr, "node17");
  EXPECT_EQ(env.master_port, 29500);
}

// Every malformed setting is a UsageError naming the variable and its value.
TEST(DistributedEnvTest, RefusesBadValuesNamingTheVariable) {
  const std::map<std::string, std::string> good = {
      {"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}};
  struct Case {
    std::string variable;
    std::string value;  // "" removes the variable
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"RANK", "abc", "RANK = \"abc\""},
      {"RANK", "2", "RANK = \"2\": expected an integer in [0, WORLD_SIZE = 2)"},
      {"RANK", "-1", "RANK = \"-1\""},
      {"RANK", "1 ", "RANK = \"1 \""},
      {"RANK", "", "WORLD_SIZE = \"2\" is set but RANK is not"},
      {"WORLD_SIZE", "", "RANK = \"1\" is set but WORLD_SIZE is not"},
      {"WORLD_SIZE", "0", "WORLD_SIZE = \"0\""},
      {"WORLD_SIZE", "two", "WORLD_SIZE = \"two\""},
      {"MASTER_ADDR", "", "MASTER_ADDR is not set"},
      {"MASTER_PORT", "", "MASTER_PORT is not set"},
      {"MASTER_PORT", "70000", "MASTER_PORT = \"70000\": expected an integer in [1, 65535]"},
      {"MASTER_PORT", "0", "MASTER_PORT = \"0\""},
      {"MASTER_PORT", "http", "MASTER_PORT = \"http\""},
      {"LOCAL_RANK", "x", "LOCAL_RANK = \"x\""},
  };
  for (const Case& c : cases) {
    std::map<std::string, std::string> values = good;
    if (c.value.empty()) {
      values.erase(c.variable);
    } else {
      values[c.variable] = c.value;
    }
    try {
      read_distributed_env(env_of(values));
      ADD_FAILURE() << c.variable << " = " << c.value << " was accepted";
    } catch (const UsageError& error) {
      EXPECT_NE(std::string(error.what()).find(c.expected), std::string::npos)
          << error.what() << " lacks " << c.expected;
    }
  }
}

TEST(DistributedTest, ShardRangesCoverEverythingOnce) {
  for (const int64_t n : {0, 1, 5, 10, 11}) {
    for (const int world : {1, 2, 3, 4}) {
      int64_t next = 0;
      for (int r = 0; r < world; ++r) {
        const auto [begin, end] = shard_range(n, r, world);
        EXPECT_EQ(begin, next);
        EXPECT_LE(end - begin, n / world + 1);
        EXPECT_GE(end - begin, n / world);
        next = end;
      }
      EXPECT_EQ(next, n);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Ranks as threads of this process, over a c10d FileStore

DistributedOptions quick(double timeout_seconds = 5) {
  DistributedOptions options;
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  return options;
}

// Runs body on `world` threads, each one rank with its own Communicator; rethrows the
// first rank's exception.
void run_ranks(int world, const std::function<void(Communicator&)>& body,
               const DistributedOptions& options = quick()) {
  const std::string store = make_temp_dir("store") + "/store";
  std::vector<std::exception_ptr> errors(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      try {
        auto comm = Communicator::connect_file(store, r, world, options);
        body(*comm);
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

TEST(CommunicatorTest, SumsBroadcastsGathersAndAveragesBuffers) {
  run_ranks(3, [](Communicator& comm) {
    const int r = comm.rank();
    EXPECT_EQ(comm.world_size(), 3);
    EXPECT_EQ(comm.sum({static_cast<double>(r), 1.5}, "sum"), (std::vector<double>{3.0, 4.5}));

    // Tensors of two dtypes, root 1.
    torch::Tensor floats = torch::full({2, 3}, static_cast<float>(r));
    torch::Tensor ints = torch::full({4}, static_cast<int64_t>(10 + r));
    comm.broadcast({floats, ints}, 1, "broadcast");
    EXPECT_TRUE(torch::equal(floats, torch::full({2, 3}, 1.0f)));
    EXPECT_TRUE(torch::equal(ints, torch::full({4}, static_cast<int64_t>(11))));

    EXPECT_EQ(comm.broadcast_text(r == 2 ? "from two" : "", 2, "text"), "from two");

    // uint8 rows, with values that would overflow if rows were mixed.
    torch::Tensor mine = torch::full({5}, static_cast<uint8_t>(250 + r), torch::kUInt8);
    torch::Tensor all = gather_rows(comm, mine, "gather");
    ASSERT_EQ(all.sizes(), (std::vector<int64_t>{3, 5}));
    for (int64_t k = 0; k < 3; ++k) {
      EXPECT_TRUE(
          torch::equal(all[k], torch::full({5}, static_cast<uint8_t>(250 + k), torch::kUInt8)));
    }

    torch::nn::BatchNorm1d norm(2);
    norm->running_mean.fill_(static_cast<float>(r));  // mean over ranks: 1
    norm->running_var.fill_(static_cast<float>(2 * r));
    norm->num_batches_tracked.fill_(7);
    average_buffers(comm, *norm, "buffers");
    EXPECT_TRUE(torch::allclose(norm->running_mean, torch::full({2}, 1.0f)));
    EXPECT_TRUE(torch::allclose(norm->running_var, torch::full({2}, 2.0f)));
    EXPECT_EQ(norm->num_batches_tracked.item<int64_t>(), 7);
  });
}

TEST(CommunicatorTest, RefusesARankWithAnotherConfig) {
  run_ranks(2, [](Communicator& comm) {
    Config config;
    config.apply_set("data.path=/rank/" + std::to_string(comm.rank()));  // per host: allowed
    if (comm.rank() == 0) {  // one call per call of rank 1
      check_same_config(comm, config);
      check_same_config(comm, config);
      return;
    }
    check_same_config(comm, config);  // equal but for data.path
    config.apply_set("train.lr=0.5");
    try {
      check_same_config(comm, config);
      ADD_FAILURE() << "a different train.lr was accepted";
    } catch (const UsageError& error) {
      EXPECT_NE(std::string(error.what()).find("`train.lr = 0.5` here"), std::string::npos)
          << error.what();
    }
  });
}

// Two linear layers, a parameter only rank 1 uses and one nobody uses.
struct TinyNet : torch::nn::Module {
  TinyNet() {
    a = register_module("a", torch::nn::Linear(3, 5));
    b = register_module("b", torch::nn::Linear(5, 2));
    sometimes = register_parameter("sometimes", torch::zeros({4}));
    never = register_parameter("never", torch::zeros({3}));
    torch::NoGradGuard no_grad;
    int k = 0;  // deterministic, distinct values (the global generator is shared by threads)
    for (auto& p : parameters()) {
      p.copy_(torch::sin(torch::arange(p.numel(), torch::kFloat32) + 10 * k++).view(p.sizes()));
    }
  }
  torch::Tensor loss(const torch::Tensor& x, bool use_sometimes) {
    torch::Tensor y = b(torch::tanh(a(x))).pow(2).mean();
    if (use_sometimes) y = y + (sometimes * torch::arange(4, torch::kFloat32)).sum();
    return y;
  }
  torch::nn::Linear a{nullptr}, b{nullptr};
  torch::Tensor sometimes, never;
};

std::vector<torch::Tensor> local_gradients(const torch::Tensor& x, bool use_sometimes) {
  TinyNet net;
  net.loss(x, use_sometimes).backward();
  std::vector<torch::Tensor> grads;
  for (const auto& p : net.parameters()) grads.push_back(p.grad());
  return grads;
}

// After backward, every rank holds the mean over ranks of the ranks' own gradients: with
// hooks (overlap) and without, over several tiny buckets, for two consecutive steps; a
// parameter one rank does not use averages its zeros in; one nobody uses keeps no gradient.
TEST(GradientAllreduceTest, EveryRankGetsTheMeanGradient) {
  const std::vector<torch::Tensor> inputs = {torch::randn({6, 3}), torch::randn({4, 3})};
  std::vector<torch::Tensor> expected;
  {
    const auto g0 = local_gradients(inputs[0], false);
    const auto g1 = local_gradients(inputs[1], true);
    for (size_t k = 0; k < g1.size(); ++k) {
      if (!g1[k].defined()) {
        expected.emplace_back();
      } else {
        expected.push_back(((g0[k].defined() ? g0[k] : torch::zeros_like(g1[k])) + g1[k]) / 2);
      }
    }
  }
  for (const bool overlap : {true, false}) {
    DistributedOptions options = quick();
    options.overlap = overlap;
    options.bucket_bytes = 32;  // several buckets; a.weight (60 bytes) alone in one
    run_ranks(
        2,
        [&](Communicator& comm) {
          const int r = comm.rank();
          TinyNet net;
          GradientAllreduce sync(comm, net.parameters(), options);
          EXPECT_GE(sync.bucket_count(), 4);
          for (int64_t step = 1; step <= 2; ++step) {
            net.zero_grad();
            sync.begin_step(step);
            net.loss(inputs[r], r == 1).backward();
            EXPECT_GE(sync.finish_step(), 0.0);
            const auto params = net.parameters();
            for (size_t k = 0; k < params.size(); ++k) {
              const torch::Tensor& grad = params[k].grad();
              if (!expected[k].defined()) {
                EXPECT_TRUE(!grad.defined() || grad.abs().max().item<float>() == 0) << k;
                continue;
              }
              ASSERT_TRUE(grad.defined()) << "rank " << r << " parameter " << k;
              EXPECT_TRUE(torch::allclose(grad, expected[k], 1e-6, 1e-7))
                  << "rank " << r << " parameter " << k << " overlap " << overlap;
            }
          }
        },
        options);
  }
}

TEST(CommunicatorTest, AMissingRankIsNamedWithinTheTimeout) {
  const std::string store = make_temp_dir("alone") + "/store";
  const auto start = Clock::now();
  try {
    Communicator::connect_file(store, 0, 2, quick(0.5));
    ADD_FAILURE() << "joined without rank 1";
  } catch (const RuntimeError& error) {
    EXPECT_NE(std::string(error.what()).find("rank 1 never joined"), std::string::npos)
        << error.what();
  }
  EXPECT_LT(seconds_since(start), 3.0);
}

// A rank that stalls (alive, but never reaches the collective) makes the other fail after
// distributed.timeout_seconds, one that leaves makes it fail at once: never a hang. (Tested
// with threads: a SIGSTOPped process is no stall here, the sandbox resumes stopped
// processes within ~2 s.)
TEST(CommunicatorTest, AStalledOrDepartedRankFailsTheCollective) {
  for (const bool stall : {true, false}) {
    run_ranks(
        2,
        [stall](Communicator& comm) {
          if (comm.rank() == 1) {
            if (stall) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
            return;  // leaving destroys this rank's process group
          }
          if (!stall) std::this_thread::sleep_for(std::chrono::milliseconds(300));
          const auto start = Clock::now();
          try {
            comm.allreduce_sum(torch::ones({1000}), "the test allreduce");
            ADD_FAILURE() << "allreduce succeeded without rank 1";
          } catch (const RuntimeError& error) {
            EXPECT_NE(std::string(error.what()).find("rank 0 of 2: the test allreduce failed"),
                      std::string::npos)
                << error.what();
          }
          // Stalled: the 0.5 s timeout, well before rank 1 wakes up and leaves.
          EXPECT_LT(seconds_since(start), 1.4) << (stall ? "stall" : "leave");
        },
        quick(0.5));
  }
}

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

}  // namespace distributed_test
}  // namespace nosharing
