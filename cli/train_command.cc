// nosharing train [--config FILE] [--data DIR] [--out RUN_DIR] [--set key=value]...
//                 [--threads N] [--force] [--no-analyze] [--quiet]
// nosharing train --resume RUN_DIR
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "nosharing/core/config.h"
#include "nosharing/core/error.h"
#include "nosharing/models/model.h"
#include "nosharing/report/wlsc_report.h"
#include "nosharing/train/checkpoint.h"
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
  std::string resume;
};

int run_train(const TrainArgs& args) {
  namespace fs = std::filesystem;
  TrainOptions options;
  options.quiet = args.quiet;
  options.command_line = g_command_line;
  Config config;
  bool created = false;
  if (!args.resume.empty()) {
    if (!args.config_file.empty() || !args.sets.empty() || !args.data.empty() ||
        !args.out.empty() || args.force || args.threads >= 0) {
      throw_usage("--resume {}: continues the run with its own config.toml; it takes no "
                  "--config, --set, --data, --out, --threads or --force",
                  args.resume);
    }
    if (!fs::is_directory(args.resume)) throw_usage("--resume {}: no such run directory", args.resume);
    config = Config::load_run_config(args.resume + "/config.toml");
    if (!fs::is_regular_file(checkpoint_path(args.resume))) {
      throw_runtime("--resume {}: no checkpoint/state.pt to resume from", args.resume);
    }
    options.run_dir = args.resume;
    options.resume = true;
  } else {
    std::vector<std::string> sets = args.sets;
    if (!args.data.empty()) sets.push_back("data.path=" + fs::absolute(args.data).string());
    if (args.threads >= 0) sets.push_back("train.threads=" + std::to_string(args.threads));
    config = Config::resolve(args.config_file.empty() ? std::nullopt
                                                      : std::optional<std::string>(args.config_file),
                             sets, preset_toml);
    options.run_dir = args.out.empty() ? default_run_directory(config.get_string("model.preset"))
                                       : args.out;
    created = !fs::exists(options.run_dir);
    create_run_directory(options.run_dir, args.force);
  }

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
  if (result.status == TrainStatus::kInterrupted) {
    std::fprintf(stderr,
                 "nosharing: interrupted after step %lld; checkpoint saved; continue with: "
                 "nosharing train --resume %s\n",
                 static_cast<long long>(result.state.step), options.run_dir.c_str());
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
  if (!args.no_analyze) {
    // The reason to train these networks is to look at their maps (DESIGN §8): a bare
    // `nosharing train` ends with a report. A failed analysis keeps the trained run.
    try {
      const std::string report = analyze_and_report(options.run_dir, "", true);
      if (!args.quiet) std::printf("report %s\n", report.c_str());
    } catch (const std::exception& error) {
      std::fprintf(stderr,
                   "nosharing: analysis of %s failed: %s; the trained run is complete; retry "
                   "with: nosharing analyze --run %s\n",
                   options.run_dir.c_str(), error.what(), options.run_dir.c_str());
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
  sub->add_flag("--force", args->force, "replace an existing run directory");
  sub->add_flag("--no-analyze", args->no_analyze,
                "skip the analysis (analysis.json, report/index.html) after training");
  sub->add_flag("--quiet", args->quiet, "print only the run directory");
  sub->add_option("--resume", args->resume, "continue an interrupted run");
  sub->callback([args, &run] { run = [args] { return run_train(*args); }; });
}

}  // namespace nosharing::cli
