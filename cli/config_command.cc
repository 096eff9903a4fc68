// nosharing config [--config FILE.toml] [--set key=value]...
// Prints the fully resolved config: every key with its value, default and meaning.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "nosharing/core/config.h"
#include "nosharing/models/model.h"

namespace nosharing::cli {

void add_config_command(CLI::App& app, CommandRun& run) {
  struct Args {
    std::string config_file;
    std::vector<std::string> sets;
  };
  auto args = std::make_shared<Args>();
  CLI::App* sub = app.add_subcommand("config", "print the resolved config, every key with its "
                                               "default");
  sub->add_option("--config", args->config_file, "TOML config file");
  sub->add_option("--set", args->sets, "override one config key: key=value (repeatable)");
  sub->callback([args, &run] {
    run = [args] {
      const Config config = Config::resolve(
          args->config_file.empty() ? std::nullopt : std::optional<std::string>(args->config_file),
          args->sets, preset_toml);
      std::fputs(config.describe().c_str(), stdout);
      return 0;
    };
  });
}

}  // namespace nosharing::cli
