#include "nosharing/train/run_reader.h"

#include <filesystem>

#include "nosharing/core/error.h"
#include "nosharing/core/json_file.h"

namespace nosharing {

RunRecord read_run(const std::string& run_dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(run_dir)) throw_runtime("--run {}: no such run directory", run_dir);
  RunRecord run;
  run.dir = run_dir;
  run.config = Config::load_run_config(run_dir + "/config.toml");
  const std::string provenance_path = run_dir + "/provenance.json";
  if (!fs::is_regular_file(provenance_path)) {
    throw_runtime("{}: no such file (is {} a run directory?)", provenance_path, run_dir);
  }
  run.provenance = read_json_file(provenance_path);
  try {
    const auto& data = run.provenance.at("data");
    run.input_shape = {data.at("channels").get<int64_t>(), data.at("height").get<int64_t>(),
                       data.at("width").get<int64_t>()};
    run.num_classes = data.at("classes").get<int64_t>();
  } catch (const nlohmann::json::exception& error) {
    throw_runtime("{}: missing data shape ({})", provenance_path, error.what());
  }
  return run;
}

Model load_trained_model(const RunRecord& run, TrainerState* state) {
  Model model = build_model(run.config, run.input_shape, run.num_classes);
  const TrainerState loaded = load_checkpoint(run.dir, *model, nullptr);
  if (state != nullptr) *state = loaded;
  model->eval();
  return model;
}

}  // namespace nosharing
