// nosharing info --run RUN_DIR [--json]
// The run's config, parameter counts per layer, and its last and best evaluation.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "nosharing/core/error.h"
#include "nosharing/core/parameter_count.h"
#include "nosharing/models/model.h"
#include "nosharing/sharing/weight_snr.h"
#include "nosharing/train/metrics_log.h"
#include "nosharing/train/run_reader.h"
#include "nosharing/train/topographic_objective.h"

namespace nosharing::cli {
namespace {

struct InfoArgs {
  std::string run;
  bool json = false;
};

int run_info(const InfoArgs& args) {
  const RunRecord run = read_run(args.run);
  TrainerState state;
  bool has_checkpoint = true;
  Model model;
  try {
    model = load_trained_model(run, &state);
  } catch (const RuntimeError&) {
    // A run without a checkpoint still has a config: count the parameters of a fresh model.
    has_checkpoint = false;
    model = build_model(run.config, run.input_shape, run.num_classes);
  }
  nlohmann::json layers = nlohmann::json::array();
  int64_t total = 0;
  for (const auto& [name, count] : parameter_counts(*model)) {
    layers.push_back({{"name", name}, {"parameters", count}});
    total += count;
  }
  // Weight SNR (DESIGN §3), both variants, one key per conv-shaped layer.
  const auto snrs = layer_weight_snrs(*model);
  nlohmann::json weight_snrs = nlohmann::json::object();
  for (const auto& [name, snr] : snrs) {
    weight_snrs[name] = {{"squared", snr.squared}, {"abs", snr.abs}};
  }
  // Mean neighbour-kernel cosine similarity on each layer's sheet (DESIGN §4, All-TNN's S).
  const auto similarities = neighbour_kernel_similarities(*model);
  nlohmann::json kernel_similarity = nlohmann::json::object();
  for (const auto& [name, value] : similarities) kernel_similarity[name] = value;
  nlohmann::json last_eval = nullptr;
  nlohmann::json best_eval = nullptr;
  nlohmann::json last_train = nullptr;
  for (const auto& line : read_metrics(run.dir + "/metrics.jsonl")) {
    const std::string kind = line.value("kind", "");
    if (kind == "eval") {
      last_eval = line;
      // Unlabelled models (wlsc) write "accuracy": null; their best eval is the lowest loss.
      const auto accuracy = [](const nlohmann::json& l) {
        return l.contains("accuracy") && l["accuracy"].is_number() ? l["accuracy"].get<double>()
                                                                    : -l.value("loss", 0.0);
      };
      if (best_eval.is_null() || accuracy(line) > accuracy(best_eval)) {
        best_eval = line;
      }
    } else if (kind == "train") {
      last_train = line;
    }
  }
  const nlohmann::json info = {
      {"run", run.dir},
      {"preset", run.config.get_string("model.preset")},
      {"model", run.config.get_string("model.type")},
      {"sharing", run.config.get_string("model.sharing")},
      {"data", run.provenance.value("data", nlohmann::json::object())},
      {"parameters", {{"total", total}, {"layers", layers}}},
      {"weight_snr", weight_snrs},
      {"layout", run.config.get_string("model.layout")},
      {"kernel_similarity", kernel_similarity},
      {"checkpoint",
       has_checkpoint ? nlohmann::json{{"step", state.step}, {"seconds", state.seconds}}
                      : nlohmann::json(nullptr)},
      {"last_train", last_train},
      {"last_eval", last_eval},
      {"best_eval", best_eval},
  };
  if (args.json) {
    std::printf("%s\n", info.dump(2).c_str());
    return 0;
  }
  std::printf("run         %s\n", run.dir.c_str());
  std::printf("model       %s (preset %s, sharing %s)\n", info["model"].get<std::string>().c_str(),
              info["preset"].get<std::string>().c_str(), info["sharing"].get<std::string>().c_str());
  std::printf("input       %lld×%lld×%lld, %lld classes\n",
              static_cast<long long>(run.input_shape.channels),
              static_cast<long long>(run.input_shape.height),
              static_cast<long long>(run.input_shape.width),
              static_cast<long long>(run.num_classes));
  std::printf("parameters  %lld\n", static_cast<long long>(total));
  for (const auto& layer : layers) {
    std::printf("  %-18s %12lld\n", layer["name"].get<std::string>().c_str(),
                static_cast<long long>(layer["parameters"].get<int64_t>()));
  }
  if (!snrs.empty()) {
    std::printf("weight SNR  (mean² / var, |mean| / std over positions; 1e12: shared)\n");
    for (const auto& [name, snr] : snrs) {  // in layer order (the JSON object is sorted)
      std::printf("  %-18s %12.4g %12.4g\n", name.c_str(), snr.squared, snr.abs);
    }
  }
  if (!similarities.empty()) {
    std::printf("kernel similarity  (mean cosine of neighbouring kernels on the %s sheet)\n",
                run.config.get_string("model.layout").c_str());
    for (const auto& [name, value] : similarities) {
      std::printf("  %-18s %12.4f\n", name.c_str(), value);
    }
  }
  if (has_checkpoint) {
    std::printf("trained     %lld steps, %.1f s\n", static_cast<long long>(state.step), state.seconds);
  }
  auto print_eval = [](const char* label, const nlohmann::json& line) {
    if (line.is_null()) return;
    if (!line.contains("accuracy") || !line["accuracy"].is_number()) {
      std::printf("%s  %s loss %.5f at step %lld\n", label, line.value("split", "val").c_str(),
                  line.value("loss", 0.0), static_cast<long long>(line.value("step", int64_t{0})));
      return;
    }
    std::printf("%s  %s accuracy %.4f, loss %.4f at step %lld\n", label,
                line.value("split", "val").c_str(), line.value("accuracy", 0.0),
                line.value("loss", 0.0), static_cast<long long>(line.value("step", int64_t{0})));
  };
  print_eval("last eval  ", last_eval);
  print_eval("best eval  ", best_eval);
  std::printf("\n%s", run.config.to_toml().c_str());
  return 0;
}

}  // namespace

void add_info_command(CLI::App& app, CommandRun& run) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* sub = app.add_subcommand("info", "describe a run: config, parameters, metrics");
  sub->add_option("--run", args->run, "run directory")->required();
  sub->add_flag("--json", args->json, "print JSON");
  sub->callback([args, &run] { run = [args] { return run_info(*args); }; });
}

}  // namespace nosharing::cli
