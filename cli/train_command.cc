// nosharing train [--config FILE] [--data DIR] [--out RUN_DIR] [--set key=value]...
//                 [--threads N] [--force] [--no-analyze] [--nproc N] [--quiet] [--profile]
// nosharing train --resume RUN_DIR [--force] [--nproc N] [--profile]
//
// Data-parallel (docs/distributed.md): with torchrun's variables (RANK, WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT) this process is one rank of a run; --nproc N starts N such
// ranks on this host and waits for them.
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "nosharing/core/config.h"
#include "nosharing/core/error.h"
#include "nosharing/models/model.h"
#include "nosharing/run_analysis/analyze_run.h"
#include "nosharing/train/checkpoint.h"
#include "nosharing/train/communicator.h"
#include "nosharing/train/local_launch.h"
#include "nosharing/train/model_sync.h"
#include "nosharing/train/process_group.h"
#include "nosharing/train/run_directory.h"
#include "nosharing/train/trainer.h"

namespace nosharing::cli {
namespace {

struct TrainArgs {
  std::string config_file;
  std::string data;
  std::string out;
  std::vector<std::string> sets;
  int threads = -1;
  bool force = false;
  bool no_analyze = false;
  bool quiet = false;
  bool profile = false;
  std::string resume;
  int nproc = 1;
};

// Test hook for the distributed tests (one process cannot be interrupted at a chosen step
// from outside): NOSHARING_TEST_INTERRUPT_AFTER_STEP=s behaves as a Ctrl-C after step s.
int64_t interrupt_after_step_from_env() {
  const char* text = std::getenv("NOSHARING_TEST_INTERRUPT_AFTER_STEP");
  if (text == nullptr || *text == '\0') return 0;
  int64_t step = 0;
  const char* end = text + std::char_traits<char>::length(text);
  const auto [ptr, ec] = std::from_chars(text, end, step);
  if (ec != std::errc() || ptr != end || step < 1) {
    throw_usage("environment variable NOSHARING_TEST_INTERRUPT_AFTER_STEP = \"{}\": expected a "
                "step ≥ 1",
                text);
  }
  return step;
}

Config resolve_new_run_config(const TrainArgs& args) {
  namespace fs = std::filesystem;
  std::vector<std::string> sets = args.sets;
  if (!args.data.empty()) sets.push_back("data.path=" + fs::absolute(args.data).string());
  if (args.threads >= 0) sets.push_back("train.threads=" + std::to_string(args.threads));
  return Config::resolve(args.config_file.empty() ? std::nullopt
                                                  : std::optional<std::string>(args.config_file),
                         sets, preset_toml);
}

void check_resume_args(const TrainArgs& args) {
  if (!args.config_file.empty() || !args.sets.empty() || !args.data.empty() || !args.out.empty() ||
      args.threads >= 0) {
    throw_usage("--resume {}: continues the run with its own config.toml; it takes no "
                "--config, --set, --data, --out or --threads",
                args.resume);
  }
  if (!std::filesystem::is_directory(args.resume)) {
    throw_usage("--resume {}: no such run directory", args.resume);
  }
}

// --nproc N (N > 1): N workers of this binary on this host, each one rank with its share of
// the compute threads: train.threads (or --threads; 0: all cores) / N, at least 1.
int launch_local_workers(const TrainArgs& args) {
  namespace fs = std::filesystem;
  LocalLaunchOptions launch;
  launch.nproc = args.nproc;
  launch.executable = fs::read_symlink("/proc/self/exe").string();
  std::vector<std::string>& a = launch.arguments;
  a.push_back("train");
  int64_t batch_size = 0;
  if (!args.resume.empty()) {
    check_resume_args(args);
    const Config config = Config::load_run_config(args.resume + "/config.toml");
    batch_size = config.get_int("train.batch_size");
    a.insert(a.end(), {"--resume", args.resume});
    if (args.force) a.push_back("--force");
  } else {
    // Resolved here once, so that a configuration error is reported once, not per worker.
    const Config config = resolve_new_run_config(args);
    batch_size = config.get_int("train.batch_size");
    int64_t total_threads = config.get_int("train.threads");
    if (total_threads <= 0) total_threads = std::max(1u, std::thread::hardware_concurrency());
    const int64_t per_worker = std::max<int64_t>(1, total_threads / args.nproc);
    const std::string out =
        args.out.empty() ? default_run_directory(config.get_string("model.preset")) : args.out;
    if (!args.config_file.empty()) a.insert(a.end(), {"--config", args.config_file});
    if (!args.data.empty()) a.insert(a.end(), {"--data", fs::absolute(args.data).string()});
    a.insert(a.end(), {"--out", out});
    for (const auto& set : args.sets) a.insert(a.end(), {"--set", set});
    a.insert(a.end(), {"--threads", std::to_string(per_worker)});
    if (args.force) a.push_back("--force");
    launch.environment.push_back("OMP_NUM_THREADS=" + std::to_string(per_worker));
  }
  if (batch_size % args.nproc != 0) {
    throw_usage("train.batch_size = {} is not divisible by --nproc {}: the global batch is "
                "split evenly across the ranks (try {})",
                batch_size, args.nproc, (batch_size / args.nproc + 1) * args.nproc);
  }
  if (args.no_analyze) a.push_back("--no-analyze");
  if (args.quiet) a.push_back("--quiet");
  if (args.profile) a.push_back("--profile");
  return run_local_workers(launch);
}

int run_train(const TrainArgs& args) {
  namespace fs = std::filesystem;
  if (args.nproc < 1) throw_usage("--nproc {}: expected ≥ 1", args.nproc);
  const DistributedEnv env = read_distributed_env();
  if (args.nproc > 1) {
    if (env.distributed()) {
      throw_usage("--nproc {}: this process is already rank {} of WORLD_SIZE = {} (torchrun's "
                  "variables are set); launch either with --nproc or with the variables",
                  args.nproc, env.rank, env.world_size);
    }
    return launch_local_workers(args);
  }
  TrainOptions options;
  options.quiet = args.quiet;
  options.profile = args.profile;
  options.command_line = g_command_line;
  options.interrupt_after_step = interrupt_after_step_from_env();
  Config config;
  if (!args.resume.empty()) {
    check_resume_args(args);
    config = Config::load_run_config(args.resume + "/config.toml");
    // Without a checkpoint (killed before its first) the run starts again from step 0.
    options.run_dir = args.resume;
    options.resume = true;
    options.accept_changed_data = args.force;
  } else {
    config = resolve_new_run_config(args);
    options.run_dir = args.out.empty() ? default_run_directory(config.get_string("model.preset"))
                                       : args.out;
  }

  // A rank of a data-parallel run joins the others (every rank with the same config); rank 0
  // alone creates the run directory and tells the others where it is, or why not.
  std::unique_ptr<Communicator> comm;
  if (env.distributed()) {
    comm = Communicator::connect_tcp(env, DistributedOptions::from_config(config));
    check_same_config(*comm, config);
  }
  const std::unique_ptr<ProcessGroup> group = make_process_group(comm.get(), config);
  options.group = group.get();
  bool created = false;
  if (args.resume.empty()) {
    const ProcessGroup::RunDirectory run_dir =
        group->create_run_directory(options.run_dir, args.force);
    options.run_dir = run_dir.path;
    created = run_dir.created;
  }
  const bool writer = group->writer();

  install_interrupt_handler();
  TrainResult result;
  try {
    result = train_model(config, options);
  } catch (...) {
    // A run that failed before its first checkpoint leaves nothing behind.
    if (created && !fs::exists(checkpoint_path(options.run_dir))) {
      std::error_code ignored;
      fs::remove_all(options.run_dir, ignored);
    }
    throw;
  }
  if (!writer) return result.status == TrainStatus::kInterrupted ? 130 : 0;
  if (result.status == TrainStatus::kInterrupted) {
    std::fprintf(stderr,
                 "nosharing: interrupted after step %lld; checkpoint saved; continue with: "
                 "nosharing train --resume %s%s\n",
                 static_cast<long long>(result.state.step), options.run_dir.c_str(),
                 comm ? fmt::format(" (with the same launch: {} ranks)", env.world_size).c_str()
                      : "");
    return 130;
  }
  if (!args.quiet && result.last_eval.n > 0 && !result.last_eval.has_accuracy) {
    std::printf("validation loss %.5f (n = %lld) after %lld steps, %.1f s of training\n",
                result.last_eval.loss, static_cast<long long>(result.last_eval.n),
                static_cast<long long>(result.state.step), result.state.seconds);
  } else if (!args.quiet && result.last_eval.n > 0) {
    std::printf("validation accuracy %.4f (n = %lld) after %lld steps, %.1f s of training\n",
                result.last_eval.accuracy, static_cast<long long>(result.last_eval.n),
                static_cast<long long>(result.state.step), result.state.seconds);
  }
  if (!args.no_analyze && !has_map_analysis(config)) {
    if (!args.quiet) {
      std::printf("no map analysis for model.type = %s (it covers lcnet, mapformer and wlsc); "
                  "weight SNR per layer: nosharing info --run %s\n",
                  config.get_string("model.type").c_str(), options.run_dir.c_str());
    }
  } else if (!args.no_analyze) {
    // The reason to train these networks is to look at their maps (DESIGN §8): a bare
    // `nosharing train` ends with a report. A failed analysis keeps the trained run.
    try {
      const std::string report = analyze_and_report(options.run_dir, "", true);
      if (!args.quiet) std::printf("report %s\n", report.c_str());
    } catch (const std::exception& error) {
      std::fprintf(stderr,
                   "nosharing: analysis of %s failed: %s; the trained run is complete; retry "
                   "with: nosharing analyze --run %s\n",
                   options.run_dir.c_str(), one_line_message(error).c_str(),
                   options.run_dir.c_str());
      std::printf("%s\n", options.run_dir.c_str());
      return 1;
    }
  }
  std::printf("%s\n", options.run_dir.c_str());
  return 0;
}

}  // namespace

void add_train_command(CLI::App& app, CommandRun& run) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* sub = app.add_subcommand("train", "train a model (default: the default preset on "
                                              "Fashion-MNIST) into a run directory");
  sub->add_option("--config", args->config_file, "TOML config file");
  sub->add_option("--data", args->data, "data folder (sets data.path)");
  sub->add_option("--out", args->out, "run directory (default runs/<UTC time>-<preset>)");
  sub->add_option("--set", args->sets, "override one config key: key=value (repeatable)");
  sub->add_option("--threads", args->threads, "compute threads (sets train.threads)")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--force", args->force,
                "replace an existing run directory; with --resume: continue although the data "
                "changed since the run started");
  sub->add_flag("--no-analyze", args->no_analyze,
                "skip the analysis (analysis.json, report/index.html) after training");
  sub->add_flag("--quiet", args->quiet, "print only the run directory");
  sub->add_flag("--profile", args->profile,
                "log a \"profile\" line to metrics.jsonl every train.log_every steps: seconds "
                "per step in data loading, forward, topographic losses, backward, allreduce, "
                "optimizer, sleep phase, evaluation and checkpoints");
  sub->add_option("--resume", args->resume, "continue an interrupted run");
  sub->add_option("--nproc", args->nproc,
                  "data-parallel: start N workers on this host (--threads is split among them; "
                  "see docs/distributed.md)")
      ->check(CLI::PositiveNumber);
  sub->callback([args, &run] { run = [args] { return run_train(*args); }; });
}

}  // namespace nosharing::cli
