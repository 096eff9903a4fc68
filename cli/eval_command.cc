// nosharing eval --run RUN_DIR [--data DIR] [--split val|test] [--json]
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "nosharing/core/error.h"
#include "nosharing/core/threads.h"
#include "nosharing/train/evaluate.h"
#include "nosharing/train/run_data.h"
#include "nosharing/train/run_reader.h"

namespace nosharing::cli {
namespace {

struct EvalArgs {
  std::string run;
  std::string data;
  std::string split = "val";
  bool json = false;
};

int run_eval(const EvalArgs& args) {
  RunRecord run = read_run(args.run);
  if (!args.data.empty()) {
    run.config.apply_set("data.path=" + std::filesystem::absolute(args.data).string());
  }
  set_compute_threads(static_cast<int>(run.config.get_int("train.threads")));
  Model model = load_trained_model(run);
  // The normalisation and the validation split are re-derived exactly as in training.
  const RunData data = load_run_data(run.config);
  if (data.input_shape.channels != run.input_shape.channels ||
      data.input_shape.height != run.input_shape.height ||
      data.input_shape.width != run.input_shape.width || data.num_classes != run.num_classes) {
    throw_runtime("data.path {}: images {}×{}×{} with {} classes, but the model was trained on "
                  "{}×{}×{} with {} classes",
                  run.config.get_string("data.path"), data.input_shape.channels,
                  data.input_shape.height, data.input_shape.width, data.num_classes,
                  run.input_shape.channels, run.input_shape.height, run.input_shape.width,
                  run.num_classes);
  }
  EvalResult result;
  if (args.split == "val") {
    if (data.split.val.numel() == 0) {
      throw_usage("--split val: the run has no validation split (data.val_fraction = 0)");
    }
    auto loader = make_eval_loader(run.config, data.train_set, data.split.val, data.normalization);
    result = evaluate(*model, *loader);
  } else {
    const std::string& path = run.config.get_string("data.path");
    if (!has_test_split(path)) {
      throw_runtime("--split test: {} holds no test split (e.g. CIFAR's test_batch.bin)", path);
    }
    LoadOptions load_options;
    load_options.image_size = run.config.get_int("data.image_size");
    const Dataset test_set = load_dataset(path, Split::kTest, load_options);
    auto loader = make_eval_loader(run.config, test_set,
                                   torch::arange(test_set.size(), torch::kInt64),
                                   data.normalization);
    result = evaluate(*model, *loader);
  }
  if (args.json) {
    const nlohmann::json out = {
        {"split", args.split},
        {"accuracy", result.has_accuracy ? nlohmann::json(result.accuracy) : nlohmann::json(nullptr)},
        {"loss", result.loss},
        {"n", result.n}};
    std::printf("%s\n", out.dump().c_str());
  } else if (!result.has_accuracy) {  // an unlabelled model (wlsc): its own objective only
    std::printf("%s loss %.5f (n = %lld)\n", args.split.c_str(), result.loss,
                static_cast<long long>(result.n));
  } else {
    std::printf("%s accuracy %.4f, loss %.4f (n = %lld)\n", args.split.c_str(), result.accuracy,
                result.loss, static_cast<long long>(result.n));
  }
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, CommandRun& run) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* sub = app.add_subcommand("eval", "evaluate a trained run");
  sub->add_option("--run", args->run, "run directory")->required();
  sub->add_option("--data", args->data, "data folder (default: the run's data.path)");
  sub->add_option("--split", args->split, "val (held-out training images) or test")
      ->check(CLI::IsMember({"val", "test"}));
  sub->add_flag("--json", args->json, "print one JSON object: split, accuracy, loss, n");
  sub->callback([args, &run] { run = [args] { return run_eval(*args); }; });
}

}  // namespace nosharing::cli
