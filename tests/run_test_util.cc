#include "tests/run_test_util.h"

#include "nosharing/train/run_directory.h"

namespace nosharing::testing {

TrainOptions new_run(const std::string& dir) {
  TrainOptions options;
  options.quiet = true;
  options.run_dir = dir;
  create_run_directory(options.run_dir, false);
  return options;
}

}  // namespace nosharing::testing
