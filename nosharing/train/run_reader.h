// Reading a finished (or interrupted) run back: its config, provenance and trained model.
// Used by eval, info and analyze.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "nosharing/core/config.h"
#include "nosharing/models/model.h"
#include "nosharing/train/checkpoint.h"

namespace nosharing {

struct RunRecord {
  std::string dir;
  Config config;             // config.toml
  nlohmann::json provenance; // provenance.json
  InputShape input_shape;    // as trained
  int64_t num_classes = 0;
};

// RuntimeError naming the directory when it is not a nosharing run directory.
RunRecord read_run(const std::string& run_dir);

// Builds the run's model and loads its checkpoint (eval mode).
Model load_trained_model(const RunRecord& run, TrainerState* state = nullptr);

}  // namespace nosharing
