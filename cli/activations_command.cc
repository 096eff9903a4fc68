// nosharing activations --run RUN --images DIR [--layers lc1,lc3] [--out FILE.npz] [--quiet]
// The responses of a trained lcnet's layers to a folder of images, for model–brain and
// model–model comparison: FILE.npz holds one array per layer, [N, C, H, W] (after the
// layer's norm and ReLU, float64), the images in sorted file-name order; FILE.json beside it
// records that order (the stimuli), the run and the shapes. `nosharing rsa` compares them.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "nosharing/analysis/stimulus_activations.h"
#include "nosharing/core/error.h"
#include "nosharing/core/files.h"
#include "nosharing/data/image_folder.h"
#include "nosharing/train/run_reader.h"

namespace nosharing::cli {
namespace activations_command {  // named, not anonymous: the CLI compiles in unity batches

struct ActivationsArgs {
  std::string run;
  std::string images;
  std::string layers;  // comma-separated; empty: every layer
  std::string out;
  bool quiet = false;
};

std::vector<std::string> split_layers(const std::string& text) {
  std::vector<std::string> layers;
  std::stringstream stream(text);
  std::string layer;
  while (std::getline(stream, layer, ',')) {
    if (layer.empty()) throw_usage("--layers {}: expected layer names separated by commas", text);
    layers.push_back(layer);
  }
  return layers;
}

// The training normalisation recorded in provenance.json.
Normalization run_normalization(const RunRecord& run) {
  const nlohmann::json& n = run.provenance.value("data", nlohmann::json::object())
                                .value("normalization", nlohmann::json::object());
  if (!n.contains("mean") || !n.contains("std")) {
    throw_runtime("{}/provenance.json: no data.normalization (mean, std) recorded", run.dir);
  }
  return {n["mean"].get<std::vector<float>>(), n["std"].get<std::vector<float>>()};
}

int run_activations(const ActivationsArgs& args) {
  namespace fs = std::filesystem;
  const std::string out = args.out.empty() ? args.run + "/activations.npz" : args.out;
  if (fs::path(out).extension() != ".npz") {
    throw_usage("--out {}: expected a file name ending in .npz", out);
  }
  std::vector<std::string> layers = split_layers(args.layers);
  if (!fs::is_directory(args.images)) {
    throw_runtime("--images {}: not a folder of images", args.images);
  }
  const RunRecord run = read_run(args.run);
  if (run.config.get_string("model.type") != "lcnet") {
    throw_usage("{}: model.type = {}: activations cover lcnet runs (their conv-shaped layers)",
                args.run, run.config.get_string("model.type"));
  }
  if (run.input_shape.height != run.input_shape.width) {
    throw_runtime("{}: the model takes {}×{} images; only square inputs are resized to", args.run,
                  run.input_shape.height, run.input_shape.width);
  }
  const std::vector<std::string> files = list_flat_image_files(args.images);
  if (files.empty()) {
    throw_runtime("--images {}: no .png, .jpg or .jpeg images in the folder", args.images);
  }
  const Model model = load_trained_model(run);
  const auto net = std::dynamic_pointer_cast<LcNetImpl>(model);
  if (layers.empty()) {
    for (const auto& spec : net->layer_specs()) layers.push_back(spec.name);
  }
  const torch::Tensor inputs = stimulus_inputs(decode_images(files, run.input_shape.height),
                                               run.input_shape, run_normalization(run));
  const NamedArrays activations = lcnet_stimulus_activations(*net, inputs, layers);

  nlohmann::json record = {{"run", run.dir},
                           {"images", args.images},
                           {"image_size", run.input_shape.height},
                           {"activation", "after the layer's norm and ReLU"},
                           {"stimuli", nlohmann::json::array()},
                           {"layers", nlohmann::json::object()}};
  for (const std::string& file : files) {
    record["stimuli"].push_back(fs::path(file).lexically_relative(args.images).string());
  }
  for (const auto& [name, values] : activations) {
    record["layers"][name] = std::vector<int64_t>(values.sizes().begin() + 1, values.sizes().end());
  }
  write_npz(out, activations);
  write_file_atomic(fs::path(out).replace_extension(".json").string(), record.dump(2) + "\n");
  if (!args.quiet) {
    for (const auto& [name, values] : activations) {
      std::printf("%-8s %s\n", name.c_str(), c10::str(values.sizes()).c_str());
    }
  }
  std::printf("%s\n", out.c_str());
  return 0;
}

}  // namespace activations_command

void add_activations_command(CLI::App& app, CommandRun& run) {
  auto args = std::make_shared<activations_command::ActivationsArgs>();
  CLI::App* sub = app.add_subcommand(
      "activations", "a trained lcnet's layer responses to a folder of images (.npz)");
  sub->add_option("--run", args->run, "run directory")->required();
  sub->add_option("--images", args->images, "folder of .png/.jpg images (resized to the model's input)")
      ->required();
  sub->add_option("--layers", args->layers, "layers, comma-separated (default: every layer)");
  sub->add_option("--out", args->out, "output .npz (default: <run>/activations.npz); stimuli in FILE.json");
  sub->add_flag("--quiet", args->quiet, "print only the .npz path");
  sub->callback([args, &run] {
    run = [args] { return activations_command::run_activations(*args); };
  });
}

}  // namespace nosharing::cli
