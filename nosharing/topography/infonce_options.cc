#include "nosharing/topography/infonce_options.h"

#include "nosharing/core/error.h"

namespace nosharing {

void check_infonce_options(const InfoNceLossOptions& options) {
  if (options.anchors() < 1) {
    throw_usage("topography.anchors = {}: expected an integer >= 1", options.anchors());
  }
  if (options.negatives() < 1) {
    throw_usage("topography.negatives = {}: expected an integer >= 1", options.negatives());
  }
  if (!(options.sigma() > 0)) {
    throw_usage("topography.sigma = {}: expected a number > 0", options.sigma());
  }
  if (!(options.tau() > 0)) throw_usage("topography.tau = {}: expected a number > 0", options.tau());
}

InfoNceLossOptions InfoNceLossOptions::from_config(const Config& config) {
  InfoNceLossOptions options;
  options.anchors(config.get_int("topography.anchors"))
      .negatives(config.get_int("topography.negatives"))
      .sigma(config.get_double("topography.sigma"))
      .tau(config.get_double("topography.tau"));
  check_infonce_options(options);
  return options;
}

}  // namespace nosharing
