// nosharing export --run RUN_DIR [--out FILE.pt]
// A trained run for tools outside nosharing: its weights as a file Python reads with
// torch.load (a dict from parameter or buffer name, as the model names them, to tensor; written by
// LibTorch's torch::pickle_save), and the per-unit maps of its analysis as an .npz beside it
// (FILE with .npz for .pt; numpy.load). The maps come from the run's maps.npz, which
// `nosharing analyze` (and the end of `nosharing train`) writes; a run analysed before maps.npz
// existed is analysed first.
#include <torch/csrc/jit/serialization/pickle.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "nosharing/core/error.h"
#include "nosharing/core/files.h"
#include "nosharing/data/binary_file.h"
#include "nosharing/models/model.h"
#include "nosharing/run_analysis/analyze_run.h"
#include "nosharing/train/run_reader.h"

namespace nosharing::cli {
namespace export_command {  // named, not anonymous: the CLI compiles in unity batches

struct ExportArgs {
  std::string run;
  std::string out;
  bool quiet = false;
};

// The model's parameters and buffers by name, as contiguous tensors of their own.
std::string weights_pickle(const Model& model) {
  c10::Dict<std::string, at::Tensor> weights;
  for (const auto& item : model->named_parameters(/*recurse=*/true)) {
    weights.insert(item.key(), item.value().detach().clone());
  }
  for (const auto& item : model->named_buffers(/*recurse=*/true)) {
    weights.insert(item.key(), item.value().detach().clone());
  }
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(weights));
  return std::string(bytes.begin(), bytes.end());
}

int run_export(const ExportArgs& args) {
  namespace fs = std::filesystem;
  const RunRecord run = read_run(args.run);
  const std::string weights_path = args.out.empty() ? args.run + "/model.pt" : args.out;
  if (fs::path(weights_path).extension() != ".pt") {
    throw_usage("--out {}: expected a file name ending in .pt (the maps go beside it as .npz)",
                weights_path);
  }
  const std::string maps_path = fs::path(weights_path).replace_extension(".npz").string();
  const fs::path parent = fs::path(weights_path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent)) {
    throw_usage("--out {}: the folder {} does not exist", weights_path, parent.string());
  }
  TrainerState state;
  const Model model = load_trained_model(run, &state);
  write_file_atomic(weights_path, weights_pickle(model));

  // Sparse coding's analysis (Gabor fits of its atoms) has no per-unit maps to export.
  std::string run_maps = args.run + "/maps.npz";
  const bool maps_expected =
      has_map_analysis(run.config) && run.config.get_string("model.type") != "wlsc";
  if (!fs::is_regular_file(run_maps) && maps_expected) run_maps = analyze_run(args.run).maps_npz;
  const bool has_maps = !run_maps.empty() && fs::is_regular_file(run_maps);
  if (has_maps) write_file_atomic(maps_path, read_binary_file(run_maps));
  if (!args.quiet) {
    std::printf("weights %s (%zu tensors, step %lld)\n", weights_path.c_str(),
                model->named_parameters().size() + model->named_buffers().size(),
                static_cast<long long>(state.step));
    if (!has_maps) {
      std::printf("maps    none: a %s run has no per-unit maps\n",
                  run.config.get_string("model.type").c_str());
    }
  }
  std::printf("%s\n", has_maps ? maps_path.c_str() : weights_path.c_str());
  return 0;
}

}  // namespace export_command

void add_export_command(CLI::App& app, CommandRun& run) {
  auto args = std::make_shared<export_command::ExportArgs>();
  CLI::App* sub = app.add_subcommand(
      "export", "write a run's weights (torch.load) and per-unit maps (numpy .npz)");
  sub->add_option("--run", args->run, "run directory")->required();
  sub->add_option("--out", args->out, "weights file, *.pt (default: <run>/model.pt); maps beside it as .npz");
  sub->add_flag("--quiet", args->quiet, "print only the last path");
  sub->callback([args, &run] { run = [args] { return export_command::run_export(*args); }; });
}

}  // namespace nosharing::cli
