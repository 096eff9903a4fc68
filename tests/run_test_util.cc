#include "tests/run_test_util.h"

#include <filesystem>

#include "nosharing/core/config.h"
#include "nosharing/train/run_directory.h"
#include "tests/test_util.h"

namespace nosharing::testing {

TrainOptions new_run(const std::string& dir) {
  TrainOptions options;
  options.quiet = true;
  options.run_dir = dir;
  create_run_directory(options.run_dir, false);
  return options;
}

void write_fake_run(const std::string& dir, const std::vector<std::string>& sets,
                    const std::vector<nlohmann::json>& metrics, const nlohmann::json& analysis) {
  std::filesystem::create_directories(dir);
  Config config;
  for (const std::string& set : sets) config.apply_set(set);
  write_file(dir + "/config.toml", config.to_toml());
  std::string lines;
  for (const nlohmann::json& line : metrics) lines += line.dump() + "\n";
  write_file(dir + "/metrics.jsonl", lines);
  if (!analysis.is_null()) write_file(dir + "/analysis.json", analysis.dump(2));
}

}  // namespace nosharing::testing
