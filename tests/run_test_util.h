// Test runs: a freshly created run directory and quiet training options writing into it.
#pragma once

#include <string>

#include "nosharing/train/trainer.h"

namespace nosharing::testing {

// Creates the run directory `dir` (which must not exist) and returns quiet TrainOptions for it.
TrainOptions new_run(const std::string& dir);

}  // namespace nosharing::testing
